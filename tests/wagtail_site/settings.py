"""A Wagtail site shaped like bakerydemo, set up by docs/wagtail.md (run with its own --ds).

Wagtail's admin at /admin/ (no Django admin), pages served by the catch-all
``path("", include(wagtail_urls))``, no URL named ``logout``, and editors who are not
``is_staff`` but reach the admin through the ``wagtailadmin.access_admin`` permission of a group.
"""

from __future__ import annotations

from tests.settings import *  # noqa: F403  (the database, hashers, mail, template pack)

ROOT_URLCONF = "tests.wagtail_site.urls"

INSTALLED_APPS = [
    # docs/wagtail.md: before django_totp, so the 2FA pages take Wagtail's look.
    "django_totp.contrib.wagtail",
    "django_totp",
    "crispy_forms",
    "crispy_bootstrap5",
    "wagtail.users",
    "wagtail.documents",
    "wagtail.images",
    "wagtail.search",
    "wagtail.snippets",
    "wagtail.sites",
    "wagtail.admin",
    "wagtail",
    "modelcluster",
    "taggit",
    "rest_framework",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_totp.middleware.TOTPMiddleware",
]

# As on bakerydemo: Django's default LOGIN_REDIRECT_URL.
del LOGIN_REDIRECT_URL  # noqa: F821 (from tests.settings)

# The recipe (docs/wagtail.md).
LOGIN_URL = "wagtailadmin_login"
TOTP_REDIRECT_URL = "wagtailadmin_home"
TOTP_REQUIRED_PERMISSIONS = ["wagtailadmin.access_admin"]
# rest_framework is installed (bakerydemo has it for Wagtail's API), and DRF's defaults accept
# a password (BasicAuthentication): check W006 asks for this. Anonymous requests still pass.
REST_FRAMEWORK = {"DEFAULT_PERMISSION_CLASSES": ["django_totp.drf.IsTwoFactorVerified"]}

WAGTAIL_SITE_NAME = "Bakery"
WAGTAILADMIN_BASE_URL = "http://testserver"
MEDIA_URL = "/media/"
