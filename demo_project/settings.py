"""Settings for the demo site: SQLite, Django's own auth, django_totp required for everyone.

Run it with ``python manage.py migrate && python manage.py runserver`` and open /register/.

Development settings unless the environment says otherwise. Without ``DJANGO_DEBUG`` it runs
with DEBUG on, and without ``DJANGO_SECRET_KEY`` with a public development key, and says so on
stderr at startup; ``DJANGO_DEBUG=0`` without ``DJANGO_SECRET_KEY`` refuses to start. For
anything public set DJANGO_SECRET_KEY, DJANGO_DEBUG=0 and DJANGO_ALLOWED_HOSTS, serve over
HTTPS, and turn on the secure cookie settings that ``manage.py check --deploy`` asks for.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import django
from django.contrib.messages import constants as message_constants
from django.core.exceptions import ImproperlyConfigured

try:
    from django.utils.csp import CSP
except ImportError:  # Django 5.2: no built-in Content-Security-Policy
    CSP = None

BASE_DIR = Path(__file__).resolve().parent.parent
DEMO_DIR = BASE_DIR / "demo_project"

DEVELOPMENT_SECRET_KEY = "django-insecure-demo-only-do-not-use-in-production-0123456789abcdefghij"
DEBUG = os.environ.get("DJANGO_DEBUG", "1").lower() in ("1", "true", "yes", "on")
SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "")
development_defaults: list[str] = []
if "DJANGO_DEBUG" not in os.environ:
    development_defaults.append("DEBUG is on: set DJANGO_DEBUG=0 to turn it off.")
if not SECRET_KEY:
    # SECURITY: the development key is public (it is in this file): sessions, CSRF tokens,
    # password reset links and remember cookies signed with it can be forged by anyone.
    if not DEBUG:
        raise ImproperlyConfigured("DJANGO_DEBUG is off: set DJANGO_SECRET_KEY as well.")
    SECRET_KEY = DEVELOPMENT_SECRET_KEY
    development_defaults.append(
        "SECRET_KEY is the public development key: set DJANGO_SECRET_KEY to a secret one."
    )
if development_defaults:
    sys.stderr.write(
        "\n".join(
            [
                "",
                "*" * 78,
                "WARNING: the django-totp demo runs with development settings.",
                *development_defaults,
                "Never expose it like this to anyone but yourself.",
                "*" * 78,
                "",
                "",
            ]
        )
    )
ALLOWED_HOSTS = ["127.0.0.1", "localhost"] + [
    host.strip() for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if host.strip()
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_totp",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Django 6.0+: the strict policy below (on 5.2 the demo runs without one).
    *(["django.middleware.csp.ContentSecurityPolicyMiddleware"] if CSP is not None else []),
    "django.contrib.sessions.middleware.SessionMiddleware",
    # The browser's language (Accept-Language) for django_totp's pages and notices; after
    # sessions, before CommonMiddleware, as Django documents.
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After AuthenticationMiddleware (it needs request.user) and MessageMiddleware (it tells
    # users why they must sign in again), before anything that serves pages.
    "django_totp.middleware.TOTPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "demo_project.urls"
WSGI_APPLICATION = "demo_project.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # DIRS is searched before the apps' templates, so templates/django_totp/base.html here
        # replaces the app's own base and puts its pages in the demo layout.
        "DIRS": [DEMO_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                # key_address: where security keys work, on pages served elsewhere.
                "demo_project.context_processors.key_address",
                # csp_nonce for the templates' <script> tags (Django 6.0+).
                *(["django.template.context_processors.csp"] if CSP is not None else []),
            ]
        },
    }
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BASE_DIR / "db.sqlite3",
    }
}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": f"django.contrib.auth.password_validation.{name}"}
    for name in (
        "UserAttributeSimilarityValidator",
        "MinimumLengthValidator",
        "CommonPasswordValidator",
        "NumericPasswordValidator",
    )
]

LANGUAGE_CODE = "en-us"
# The eight languages django_totp ships; the demo's own pages stay English.
LANGUAGES = [
    ("en", "English"),
    ("de", "Deutsch"),
    ("es", "Español"),
    ("fr", "Français"),
    ("it", "Italiano"),
    ("ja", "日本語"),
    ("nl", "Nederlands"),
    ("pl", "Polski"),
    ("pt-br", "Português (Brasil)"),
]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [DEMO_DIR / "static"]
STATIC_ROOT = BASE_DIR / "staticfiles"

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "account"
LOGOUT_REDIRECT_URL = "home"

# Bootstrap's alert classes for Django's message levels.
MESSAGE_TAGS = {message_constants.ERROR: "danger"}

# A strict Content-Security-Policy (Django 6.0+): scripts and styles from this site only, none
# inline (a script may carry the request's nonce), images from this site or data: URLs, and
# no framing. Every page, django_totp's and the admin included, works under it: the browser
# tests fail on any violation (tests/browser/flow.py).
if CSP is not None:
    SECURE_CSP = {
        "default-src": [CSP.SELF],
        "script-src": [CSP.SELF, CSP.NONCE],
        "style-src": [CSP.SELF],
        "img-src": [CSP.SELF, "data:"],
        "frame-ancestors": [CSP.NONE],
    }

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
CSRF_COOKIE_SAMESITE = "Lax"

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

TOTP_REQUIRED_FOR = "everyone"
TOTP_ISSUER = "django-totp demo"
TOTP_REMEMBER_DAYS = 30

# Security keys and passkeys. Browsers allow WebAuthn over http at localhost only, never at an
# IP address, so keys work at http://localhost:<port>/ and the demo's pages served at 127.0.0.1
# link there (context_processors.key_address). `make demo` passes its PORT as DEMO_PORT.
try:
    DEMO_PORT = int(os.environ.get("DEMO_PORT", "8000"))
except ValueError:
    raise ImproperlyConfigured("DEMO_PORT must be a port number, e.g. 8000.") from None
TOTP_WEBAUTHN = True
TOTP_WEBAUTHN_RP_ID = "localhost"
TOTP_WEBAUTHN_ORIGINS = [f"http://localhost:{DEMO_PORT}"]
# Passkey sign-in: the login page's "Sign in with a passkey" button and passkey autofill.
TOTP_PASSKEY_SIGN_IN = True

# django_totp's e-mail notices (2FA reset, device added or removed, lock) go to the console here.
# Django 6.1 configures mail through MAILERS (EMAIL_BACKEND is deprecated there).
if django.VERSION >= (6, 1):
    MAILERS = {"default": {"BACKEND": "django.core.mail.backends.console.EmailBackend"}}
else:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {
        # django_totp's security events: enrolments, verifications, refusals, locks, resets.
        "django_totp": {"handlers": ["console"], "level": "INFO", "propagate": False},
    },
}
