"""The test site with django-otp installed, as a site switching from it has (R36)."""

from tests.settings import *  # noqa: F403

SOURCE_APPS = ["django_otp", "django_otp.plugins.otp_totp", "django_otp.plugins.otp_static"]
INSTALLED_APPS = [*INSTALLED_APPS, *SOURCE_APPS]  # noqa: F405
