"""System checks: each problem has a stable ID and a hint."""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.checks import WARNING, run_checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from django_totp import checks
from django_totp.conf import conf

MIDDLEWARE_PATH = "django_totp.middleware.TOTPMiddleware"


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_test_settings_pass_every_check():
    assert checks.check_middleware() == []
    assert checks.check_apps() == []
    assert checks.check_settings() == []
    assert checks.check_user_admin() == []
    assert checks.check_issuer() == []


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
        ("TOTP_EXEMPT_URLS", ("/health/"), "E011"),  # the missing comma: a str
        ("TOTP_ENCRYPTION_KEYS", ["short"], "E012"),
        ("TOTP_ISSUER", None, "E013"),
        ("TOTP_REMEMBER_DAYS", -1, "E015"),
        ("TOTP_REMEMBER_DAYS", "30", "E015"),
        ("TOTP_REMEMBER_COOKIE_NAME", "sessionid", "E016"),
        ("TOTP_REMEMBER_COOKIE_NAME", "", "E016"),
        ("TOTP_REMEMBER_FORGET_ON_RECOVERY", "yes", "E017"),
        ("TOTP_NOTIFY_BY_EMAIL", "no", "E018"),
        ("TOTP_VERIFY_URL", "", "E019"),
        ("TOTP_REDIRECT_URL", None, "E019"),
        ("TOTP_RECHECK_SECONDS", -1, "E021"),
        ("TOTP_REQUIRED_PERMISSIONS", ("wagtailadmin.access_admin"), "E023"),
        ("TOTP_REQUIRED_GROUPS", [""], "E024"),
        ("TOTP_REQUIRED_CALLABLE", None, "E025"),
        ("TOTP_ENROLMENT_GRACE_DAYS", "14", "E027"),
        ("TOTP_RECHECK_SECONDS", 60.0, "E021"),
        ("TOTP_NOTIFY_FAILURES_AFTER", 0, "E022"),
        ("TOTP_NOTIFY_FAILURES_AFTER", "5", "E022"),
        ("TOTP_WEBAUTHN", 1, "E030"),
        ("TOTP_WEBAUTHN_RP_ID", "10.0.0.1", "E031"),
        ("TOTP_WEBAUTHN_RP_NAME", "x" * 65, "E032"),
        ("TOTP_WEBAUTHN_ORIGINS", ["http://example.com"], "E033"),
        ("TOTP_WEBAUTHN_ORIGINS", ("https://example.com"), "E033"),  # the missing comma
        ("TOTP_WEBAUTHN_USER_VERIFICATION", "sometimes", "E035"),
    ],
)
def test_invalid_settings_are_reported_with_a_hint(settings, name, value, check_id):
    setattr(settings, name, value)
    messages = checks.check_settings()
    assert ids(messages) == [f"django_totp.{check_id}"]
    assert messages[0].hint


def test_the_settings_rules_and_the_other_checks_use_distinct_ids(settings):
    names = [name for name in dir(conf) if name.startswith("TOTP_")]
    for name in names:
        setattr(settings, name, object())
    errors = conf.errors()
    assert len(errors) == len(names)
    assert not {error.check_id for error in errors} & set(checks.MESSAGES)


def test_missing_required_app(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "crispy_forms"]
    assert ids(checks.check_apps()) == ["django_totp.E003"]


def test_manage_py_check_fails_on_errors(settings):
    settings.TOTP_TOLERANCE = 5
    with pytest.raises(SystemCheckError, match="E007"):
        call_command("check")


def test_deploy_check_leaves_cookie_flags_to_djangos_own_checks(settings):
    settings.SESSION_COOKIE_SECURE = False
    settings.CSRF_COOKIE_SECURE = False
    settings.SESSION_COOKIE_HTTPONLY = False
    assert checks.check_deploy_cookies() == []
    found = {message.id for message in run_checks(include_deployment_checks=True)}
    assert {"security.W012", "security.W015", "security.W016"} <= found
    assert not found & {f"django_totp.{retired}" for retired in checks.RETIRED_IDS}


def test_the_retired_ids_are_never_reused():
    assert set(checks.RETIRED_IDS) == {"W001", "W002", "W003"}
    assert not set(checks.RETIRED_IDS) & set(checks.MESSAGES)


@pytest.mark.parametrize(
    "engine", ["django.contrib.sessions.backends.signed_cookies", "tests.signed_sessions"]
)
def test_deploy_check_warns_about_signed_cookie_sessions(settings, engine):
    settings.SESSION_ENGINE = engine
    messages = checks.check_deploy_cookies()
    assert ids(messages) == ["django_totp.W011"]
    assert engine in messages[0].msg and "server-side" in messages[0].hint


@pytest.mark.parametrize(
    "engine",
    ["django.contrib.sessions.backends.db", "django.contrib.sessions.backends.cached_db"],
)
def test_server_side_sessions_pass_the_deploy_check(settings, engine):
    settings.SESSION_ENGINE = engine
    assert checks.check_deploy_cookies() == []


def test_a_user_admin_without_the_2fa_panel_is_a_warning(monkeypatch):
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    monkeypatch.setattr(admin.site._registry[get_user_model()], "inlines", [])
    messages = checks.check_user_admin()
    assert ids(messages) == ["django_totp.W005"]
    assert "auth.User" in messages[0].msg and "TOTPDeviceInline" in messages[0].hint


def test_listing_django_totp_before_the_admin_is_reported_by_manage_py_check(tmp_path):
    # App order decides whether the user admin is registered when django_totp's ready() runs.
    (tmp_path / "early_settings.py").write_text(
        "from tests.settings import *  # noqa\n"
        "INSTALLED_APPS = ['django_totp'] + [a for a in INSTALLED_APPS if a != 'django_totp']\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), str(root)])}
    child = subprocess.run(
        [sys.executable, "-m", "django", "check", "--settings", "early_settings"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode == 0, child.stderr
    assert "django_totp.W005" in child.stderr + child.stdout


@pytest.mark.parametrize(
    "prefix", ["/", "//evil", "/api//x", "/api/../admin/", "/api?x", "/api#x", "/api x", "/api\t"]
)
def test_an_ambiguous_exempt_prefix_is_an_error(settings, prefix):
    settings.TOTP_EXEMPT_URLS = ["health", prefix]
    assert ids(checks.check_settings()) == ["django_totp.E020"]
    with pytest.raises(ImproperlyConfigured, match="TOTP_EXEMPT_URLS"):
        _ = conf.TOTP_EXEMPT_URLS


@pytest.mark.parametrize(
    ("issuer", "hosts", "expected"),
    [
        ("", ["*"], ["django_totp.W008"]),
        ("", [".example.com"], ["django_totp.W008"]),
        ("", ["example.com", "*.example.com"], ["django_totp.W008"]),
        ("", ["example.com", "localhost"], []),
        ("Example Inc", ["*"], []),
    ],
)
def test_an_empty_issuer_with_wildcard_hosts_is_a_warning(settings, issuer, hosts, expected):
    settings.TOTP_ISSUER = issuer
    settings.ALLOWED_HOSTS = hosts
    found = checks.check_issuer()
    assert ids(found) == expected
    assert all(message.hint and "Host header" in message.hint for message in found)


def test_the_unrelated_django_totp_distribution_installed_too_is_a_warning(monkeypatch):
    versions = {"django-totp-2fa": "0.1.0", "django-totp": "1.1.7"}

    def version(name):
        if name not in versions:
            raise importlib.metadata.PackageNotFoundError(name)
        return versions[name]

    monkeypatch.setattr(importlib.metadata, "version", version)
    (found,) = checks.check_clashing_distribution()
    assert found.id == "django_totp.W009" and found.level == WARNING
    assert "1.1.7" in found.msg and "pip uninstall django-totp" in found.hint
    del versions["django-totp"]
    assert checks.check_clashing_distribution() == []


def test_this_environment_has_no_clashing_distribution():
    # The test environments install django-totp-2fa only (and a stale "django-totp" would be
    # an old editable install of this checkout under its former name).
    assert checks.check_clashing_distribution() == []
    assert importlib.metadata.version("django-totp-2fa")


def test_the_test_sites_urls_pass_the_url_check():
    assert checks.check_urls() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOGIN_URL", "/accounts/login/"),
        ("LOGIN_URL", "account_login"),
        ("TOTP_LOGOUT_URL", "logout-nowhere"),
        ("TOTP_REDIRECT_URL", "/accounts/profile/"),
        ("TOTP_EXEMPT_URLS", ["health", "no-such-page"]),
    ],
)
def test_a_url_setting_that_leads_nowhere_is_a_warning(settings, name, value):
    setattr(settings, name, value)
    messages = checks.check_urls()
    assert ids(messages) == ["django_totp.W012"]
    assert messages[0].level == WARNING and name in messages[0].msg and messages[0].hint


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LOGIN_URL", "https://sso.example/login/"),
        ("LOGIN_URL", "login"),
        ("TOTP_LOGOUT_URL", "/logout/"),
        ("TOTP_REDIRECT_URL", "admin:index"),
        ("TOTP_EXEMPT_URLS", ["django_totp:rename", "/anything/"]),
    ],
)
def test_url_settings_that_lead_somewhere_pass(settings, name, value):
    setattr(settings, name, value)
    assert checks.check_urls() == []


def test_a_default_redirect_that_leads_nowhere_is_named_as_the_site_set_it(settings):
    """Switching from django-two-factor-auth leaves LOGIN_REDIRECT_URL = "two_factor:profile":
    the warning names that setting, not the TOTP_REDIRECT_URL nobody set."""
    settings.LOGIN_REDIRECT_URL = "two_factor:profile"
    (message,) = checks.check_urls()
    assert message.msg.startswith("LOGIN_REDIRECT_URL = 'two_factor:profile'")
    assert "TOTP_REDIRECT_URL is not set" in message.hint


def test_without_the_packages_urls_the_default_sign_out_is_not_reported_twice(settings):
    settings.ROOT_URLCONF = "tests.checks_urls.without_django_totp"
    messages = checks.check_urls()
    assert not any("TOTP_LOGOUT_URL" in message.msg for message in messages)
    settings.TOTP_LOGOUT_URL = "django_totp:logout"  # set by the site: reported as set
    assert any("TOTP_LOGOUT_URL" in message.msg for message in checks.check_urls())


def test_the_packages_urls_missing_from_the_urlconf_are_an_error(settings):
    settings.ROOT_URLCONF = "tests.checks_urls.without_django_totp"
    messages = checks.check_urls()
    assert "django_totp.E028" in ids(messages)
    assert "not included" in messages[0].msg and "include" in messages[0].hint


def test_the_packages_urls_behind_a_catch_all_are_an_error(settings):
    settings.ROOT_URLCONF = "tests.checks_urls.catch_all_first"
    messages = checks.check_urls()
    assert ids(messages)[:4] == ["django_totp.E028"] * 4
    assert "'page'" in messages[0].msg and "catch-all" in messages[0].hint


def test_the_packages_urls_before_a_catch_all_pass(settings):
    settings.ROOT_URLCONF = "tests.bare_site_urls"
    settings.LOGIN_URL = "/login/"
    assert checks.check_urls() == []


@pytest.mark.parametrize(
    ("name", "value"),
    [("LOGIN_URL", "/accounts/login/"), ("TOTP_REDIRECT_URL", "/accounts/profile/")],
)
def test_djangos_default_urls_answered_only_by_a_catch_all_are_a_warning(settings, name, value):
    # Wagtail's bakerydemo: its page view answers every path, /accounts/login/ included (a 404).
    settings.ROOT_URLCONF = "tests.bare_site_urls"
    settings.LOGIN_URL = "/login/"
    setattr(settings, name, value)
    messages = checks.check_urls()
    assert ids(messages) == ["django_totp.W012"]
    assert "catch-all pattern 'page'" in messages[0].msg


def test_pages_of_a_catch_all_site_are_not_reported(settings):
    settings.ROOT_URLCONF = "tests.bare_site_urls"
    settings.LOGIN_URL = "/login/"
    settings.TOTP_REDIRECT_URL = "/blog/"
    assert checks.check_urls() == []


def test_manage_py_check_reports_the_urls(settings):
    settings.ROOT_URLCONF = "tests.checks_urls.catch_all_first"
    with pytest.raises(SystemCheckError, match="E028"):
        call_command("check")


def test_the_crispy_template_pack_of_the_test_settings_passes():
    assert checks.check_crispy_template_pack() == []


def test_a_missing_crispy_template_pack_setting_is_an_error(settings):
    del settings.CRISPY_TEMPLATE_PACK
    messages = checks.check_crispy_template_pack()
    assert ids(messages) == ["django_totp.E029"]
    assert "CRISPY_TEMPLATE_PACK is not set" in messages[0].msg
    assert "crispy_bootstrap5" in messages[0].hint


def test_a_crispy_template_pack_whose_app_is_missing_is_an_error(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "crispy_bootstrap5"]
    messages = checks.check_crispy_template_pack()
    assert ids(messages) == ["django_totp.E029"]
    assert "bootstrap5/whole_uni_form.html" in messages[0].msg


def test_a_missing_crispy_template_pack_fails_manage_py_check(settings):
    settings.CRISPY_TEMPLATE_PACK = "bootstrap3"
    settings.CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap3"
    with pytest.raises(SystemCheckError, match="E029"):
        call_command("check")


def test_origins_outside_the_rp_id_are_an_error(settings):
    settings.TOTP_WEBAUTHN_RP_ID = "example.com"
    settings.TOTP_WEBAUTHN_ORIGINS = ["https://example.org"]
    messages = checks.check_settings()
    assert ids(messages) == ["django_totp.E034"]
    assert messages[0].hint


def test_webauthn_switched_on_without_its_library_is_an_error(settings, monkeypatch):
    settings.TOTP_WEBAUTHN = True
    settings.TOTP_WEBAUTHN_RP_ID = "localhost"
    settings.TOTP_WEBAUTHN_ORIGINS = ["http://localhost:8000"]
    assert checks.check_webauthn() == []
    # An entry of None makes "import webauthn" raise ImportError, as when it is not installed.
    monkeypatch.setitem(sys.modules, "webauthn", None)
    assert ids(checks.check_webauthn()) == ["django_totp.E036"]
    settings.TOTP_WEBAUTHN = False
    assert checks.check_webauthn() == []


def test_webauthn_switched_on_without_a_relying_party_is_an_error(settings):
    settings.TOTP_WEBAUTHN = True
    assert ids(checks.check_webauthn()) == ["django_totp.E037", "django_totp.E037"]
    settings.TOTP_WEBAUTHN_RP_ID = "example.com"
    messages = checks.check_webauthn()
    assert ids(messages) == ["django_totp.E037"]
    assert "TOTP_WEBAUTHN_ORIGINS" in messages[0].msg
