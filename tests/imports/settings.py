"""The test site with the packages `totp_import` reads installed, as a switching site has (R36)."""

from tests.settings import *  # noqa: F403

SOURCE_APPS = [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "two_factor",
    "two_factor.plugins.phonenumber",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_mfa",
]
INSTALLED_APPS = [*INSTALLED_APPS, *SOURCE_APPS]  # noqa: F405
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]  # noqa: F405
# django-mfa's own checks ask for these; passkeys are not imported.
MFA_FIDO2_RP_ID = "localhost"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "django_mfa.backends.WebAuthnBackend",
]
