"""``totp_import`` on a site whose database holds no source tables (R36)."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
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
