"""R34: the settings object refuses wrong values at first use, so app servers fail closed."""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse

from django_totp import crypto
from django_totp.conf import conf, is_rp_id, origin_host
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
    ("TOTP_WEBAUTHN", "yes"),
    ("TOTP_PASSKEY_SIGN_IN", 1),
    ("TOTP_WEBAUTHN_RP_ID", "192.168.0.1"),
    ("TOTP_WEBAUTHN_RP_NAME", None),
    ("TOTP_WEBAUTHN_ORIGINS", "https://example.com"),
    ("TOTP_WEBAUTHN_USER_VERIFICATION", "always"),
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


@pytest.mark.parametrize(
    "rp_id",
    [
        "127.0.0.1",
        "::1",
        "[::1]",
        "com",  # a public suffix nobody owns
        "https://example.com",
        "example.com/",
        "Example.com",
        "example.com:8000",
        "exa mple.com",
        ".example.com",
        "",
    ],
)
def test_an_ip_address_url_or_public_suffix_is_no_rp_id(rp_id):
    assert not is_rp_id(rp_id)


@pytest.mark.parametrize("rp_id", ["example.com", "login.example.co.uk", "localhost"])
def test_domain_names_are_rp_ids(rp_id):
    assert is_rp_id(rp_id)


@pytest.mark.parametrize(
    "origin",
    [
        "http://example.com",  # plain http off localhost
        "http://127.0.0.1:8000",
        "http://localhost.evil.example",
        "https://example.com/",
        "https://example.com/path",
        "https://user@example.com",
        "https://example.com:0",
        "https://example.com:99999",
        "https://example.com:80a",
        "HTTPS://example.com",
        "ftp://example.com",
        "example.com",
        "https://",
    ],
)
def test_refused_origins(origin):
    assert origin_host(origin) is None


@pytest.mark.parametrize(
    ("origin", "host"),
    [
        ("https://example.com", "example.com"),
        ("https://www.example.com:8443", "www.example.com"),
        ("http://localhost", "localhost"),
        ("http://localhost:8000", "localhost"),
        ("https://localhost:8000", "localhost"),
    ],
)
def test_allowed_origins(origin, host):
    assert origin_host(origin) == host


@pytest.mark.parametrize(
    "origins",
    [
        ["https://notexample.com"],  # ends with the RP ID, but not at a label boundary
        ["https://example.com.evil.example"],
        ["https://example.com", "https://example.org"],
        ["http://localhost:8000"],
    ],
)
def test_an_origin_outside_the_rp_id_is_refused(settings, origins):
    settings.TOTP_WEBAUTHN_RP_ID = "example.com"
    settings.TOTP_WEBAUTHN_ORIGINS = origins
    with pytest.raises(ImproperlyConfigured, match="TOTP_WEBAUTHN_ORIGINS"):
        _ = conf.TOTP_WEBAUTHN_ORIGINS


def test_origins_on_the_rp_id_and_below_it_are_accepted(settings):
    settings.TOTP_WEBAUTHN_RP_ID = "example.com"
    origins = ["https://example.com", "https://login.example.com:8443"]
    settings.TOTP_WEBAUTHN_ORIGINS = origins
    assert conf.TOTP_WEBAUTHN_ORIGINS == origins
