"""The test site with the packages `totp_import` reads installed, as a switching site has (R36)."""

from tests.settings import *  # noqa: F403

SOURCE_APPS = [
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "two_factor",
    "two_factor.plugins.phonenumber",
    "two_factor.plugins.webauthn",
    "django_otp_webauthn",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "django_mfa",
]
INSTALLED_APPS = [*INSTALLED_APPS, *SOURCE_APPS]  # noqa: F405
MIDDLEWARE = [*MIDDLEWARE, "allauth.account.middleware.AccountMiddleware"]  # noqa: F405
# The old site's security keys were registered for the RP ID that TOTP_WEBAUTHN_RP_ID names,
# its host name.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "example.com"]  # noqa: F405
MFA_FIDO2_RP_ID = "example.com"
TWO_FACTOR_WEBAUTHN_RP_NAME = "Example"
OTP_WEBAUTHN_RP_ID = "example.com"
OTP_WEBAUTHN_RP_NAME = "Example"
OTP_WEBAUTHN_ALLOWED_ORIGINS = ["https://example.com"]
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "django_mfa.backends.WebAuthnBackend",
]
