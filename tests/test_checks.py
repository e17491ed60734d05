"""System checks: each problem has a stable ID and a hint."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_totp import checks

MIDDLEWARE_PATH = "django_totp.middleware.TOTPMiddleware"


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_test_settings_pass_every_check():
    assert checks.check_middleware() == []
    assert checks.check_apps() == []
    assert checks.check_settings() == []


def test_missing_middleware(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    assert ids(checks.check_middleware()) == ["django_totp.E001"]


def test_middleware_before_authentication(settings):
    rest = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    settings.MIDDLEWARE = [MIDDLEWARE_PATH, *rest]
    assert ids(checks.check_middleware()) == ["django_totp.E002"]


def test_missing_csrf_middleware_is_an_error(settings):
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if "csrf" not in m]
    assert ids(checks.check_middleware()) == ["django_totp.E014"]


def test_middleware_before_messages_is_a_warning(settings):
    rest = [m for m in settings.MIDDLEWARE if m != MIDDLEWARE_PATH]
    auth = rest.index("django.contrib.auth.middleware.AuthenticationMiddleware")
    settings.MIDDLEWARE = [*rest[: auth + 1], MIDDLEWARE_PATH, *rest[auth + 1 :]]
    assert ids(checks.check_middleware()) == ["django_totp.W004"]


@pytest.mark.parametrize(
    ("name", "value", "check_id"),
    [
        ("TOTP_REQUIRED_FOR", "admins", "E004"),
        ("TOTP_DIGITS", 4, "E005"),
        ("TOTP_DIGITS", "6", "E005"),
        ("TOTP_PERIOD", 0, "E006"),
        ("TOTP_TOLERANCE", 2, "E007"),
        ("TOTP_MAX_FAILURES", 101, "E008"),
        ("TOTP_MAX_FAILURES", 0, "E008"),
        ("TOTP_THROTTLE_FACTOR", -1, "E009"),
        ("TOTP_PENDING_TIMEOUT", 0, "E010"),
        ("TOTP_SETUP_TIMEOUT", "600", "E010"),
        ("TOTP_EXEMPT_URLS", "health", "E011"),
        ("TOTP_ENCRYPTION_KEYS", ["short"], "E012"),
        ("TOTP_ISSUER", None, "E013"),
        ("TOTP_REMEMBER_DAYS", -1, "E015"),
        ("TOTP_REMEMBER_DAYS", "30", "E015"),
        ("TOTP_REMEMBER_COOKIE_NAME", "sessionid", "E016"),
        ("TOTP_REMEMBER_COOKIE_NAME", "", "E016"),
        ("TOTP_REMEMBER_FORGET_ON_RECOVERY", "yes", "E017"),
    ],
)
def test_invalid_settings_are_reported_with_a_hint(settings, name, value, check_id):
    setattr(settings, name, value)
    messages = checks.check_settings()
    assert ids(messages) == [f"django_totp.{check_id}"]
    assert messages[0].hint


def test_missing_required_app(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "crispy_forms"]
    assert ids(checks.check_apps()) == ["django_totp.E003"]


def test_manage_py_check_fails_on_errors(settings):
    settings.TOTP_TOLERANCE = 5
    with pytest.raises(SystemCheckError, match="E007"):
        call_command("check")


def test_deploy_check_warns_about_insecure_cookies(settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_HTTPONLY = False
    assert ids(checks.check_deploy_cookies()) == [
        "django_totp.W001",
        "django_totp.W002",
        "django_totp.W003",
    ]
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True
    settings.SESSION_COOKIE_HTTPONLY = True
    assert checks.check_deploy_cookies() == []
