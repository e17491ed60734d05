"""``totp_import`` on a site whose database holds no source tables (R36)."""

from __future__ import annotations

import re

import pytest
from django.core.management import ManagementUtility, call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("source", "tables"),
    [
        ("django-otp", "otp_totp_totpdevice, otp_static_statictoken, django_otp_webauthn_"),
        ("two-factor", "django_otp_webauthn_webauthncredential, two_factor_webauthn_"),
        ("allauth", "(mfa_authenticator)"),
        ("django-mfa", "(django_mfa_authenticator)"),
    ],
)
def test_a_site_without_the_source_tables_is_told_so(source, tables):
    with pytest.raises(CommandError, match=re.escape(f"None of {source}'s tables")) as refused:
        call_command("totp_import", "--from", source)
    assert tables in str(refused.value)


def test_an_unknown_source_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("totp_import", "--from", "django-mfa2")


def test_decrypt_is_for_allauth_only():
    with pytest.raises(CommandError, match="--decrypt is for allauth"):
        call_command("totp_import", "--from", "django-mfa", "--decrypt", "builtins.str")


def run_as_the_operator(capsys, *args: str) -> str:
    """``manage.py totp_import ARGS`` as typed, system checks and all; what it printed."""
    with pytest.raises(SystemExit):
        ManagementUtility(["manage.py", "totp_import", *args]).execute()
    return capsys.readouterr().err


def test_it_runs_before_the_switch_while_the_middleware_and_urls_are_still_missing(
    settings, capsys
):
    """Switching: django_totp is installed and migrated, the old package still in charge, so
    the checks that report our middleware and URLs as missing must not stop the import."""
    settings.MIDDLEWARE = [m for m in settings.MIDDLEWARE if not m.startswith("django_totp")]
    settings.ROOT_URLCONF = "tests.bare_site_urls"
    printed = run_as_the_operator(capsys, "--from", "django-otp")
    assert "None of django-otp's tables" in printed and "SystemCheckError" not in printed


def test_a_setting_that_breaks_its_rule_stops_it_with_what_to_do(settings, capsys):
    settings.TOTP_ENCRYPTION_KEYS = "one string, not a list"
    printed = run_as_the_operator(capsys, "--from", "django-otp")
    assert "TOTP_ENCRYPTION_KEYS" in printed and "Traceback" not in printed
