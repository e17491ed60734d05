"""R34: the settings object refuses wrong values at first use, so app servers fail closed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from django_totp import crypto
from django_totp.conf import conf
from django_totp.middleware import TOTPMiddleware

from .conftest import make_device

BAD_VALUES = [
    ("TOTP_ISSUER", None),
    ("TOTP_REQUIRED_FOR", "admins"),
    ("TOTP_DIGITS", "6"),
    ("TOTP_PERIOD", 0),
    ("TOTP_TOLERANCE", 2),
    ("TOTP_EXEMPT_URLS", "/health/"),
    ("TOTP_EXEMPT_URLS", ["/api/", 3]),
    ("TOTP_VERIFY_URL", ""),
    ("TOTP_RECOVERY_URL", None),
    ("TOTP_SETUP_URL", 5),
    ("TOTP_LOGOUT_URL", ["logout"]),
    ("TOTP_REDIRECT_URL", None),
    ("TOTP_THROTTLE_FACTOR", -1),
    ("TOTP_THROTTLE_FACTOR", float("nan")),
    ("TOTP_MAX_FAILURES", 101),
    ("TOTP_SETUP_TIMEOUT", "600"),
    ("TOTP_PENDING_TIMEOUT", 0),
    ("TOTP_STEP_UP_SECONDS", True),
    ("TOTP_RECHECK_SECONDS", 301),
    ("TOTP_REQUIRED_PERMISSIONS", "wagtailadmin.access_admin"),
    ("TOTP_REQUIRED_PERMISSIONS", ["access_admin"]),
    ("TOTP_REQUIRED_GROUPS", "Editors"),
    ("TOTP_REQUIRED_CALLABLE", "must_use_2fa"),
    ("TOTP_ENROLMENT_GRACE_DAYS", 91),
    ("TOTP_NOTIFY_FAILURES_AFTER", 0),
    ("TOTP_RECHECK_SECONDS", "60"),
    ("TOTP_REMEMBER_DAYS", 366),
    ("TOTP_REMEMBER_COOKIE_NAME", "sessionid"),
    ("TOTP_REMEMBER_FORGET_ON_RECOVERY", "no"),
    ("TOTP_ENCRYPTION_KEYS", "k" * 48),
    ("TOTP_NOTIFY_BY_EMAIL", 0),
]


@pytest.mark.parametrize(("name", "value"), BAD_VALUES)
def test_a_wrong_value_is_refused_at_first_use_naming_the_setting(settings, name, value):
    setattr(settings, name, value)
    with pytest.raises(ImproperlyConfigured, match=name):
        getattr(conf, name)


def test_every_setting_has_a_rule():
    tested = {name for name, _ in BAD_VALUES}
    settings_names = {name for name in dir(conf) if name.startswith("TOTP_")}
    assert tested == settings_names


def test_the_defaults_are_valid():
    for name in dir(conf):
        if name.startswith("TOTP_"):
            getattr(conf, name)


def test_a_missing_comma_in_the_exempt_list_stops_the_site_instead_of_exempting_every_url(
    password_client, device, settings
):
    # ("/health/") is a string: iterated, it used to become ["/", "h", ...], and "/" exempts all.
    settings.TOTP_EXEMPT_URLS = "/health/"
    with pytest.raises(ImproperlyConfigured, match="TOTP_EXEMPT_URLS"):
        password_client.get("/private/")


def test_a_site_whose_settings_change_after_start_answers_an_error_never_the_page(
    password_client, device, settings
):
    # The middleware refuses to load with a bad value; past that, every read is checked again.
    password_client.get("/help/")
    settings.TOTP_EXEMPT_URLS = "/health/"
    password_client.raise_request_exception = False
    response = password_client.get("/private/")
    assert response.status_code == 500
    assert b"private page" not in response.content


def test_a_string_of_encryption_keys_is_refused_not_split_into_characters(settings, user):
    device = make_device(user)
    settings.TOTP_ENCRYPTION_KEYS = "k" * 48
    with pytest.raises(ImproperlyConfigured, match="TOTP_ENCRYPTION_KEYS"):
        crypto.decrypt(device.encrypted_secret)


def test_the_middleware_refuses_to_load_with_a_wrong_value(settings):
    settings.TOTP_PENDING_TIMEOUT = "600"
    with pytest.raises(ImproperlyConfigured, match="TOTP_PENDING_TIMEOUT"):
        TOTPMiddleware(lambda request: HttpResponse())
