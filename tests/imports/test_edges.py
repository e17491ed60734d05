"""What ``totp_import`` refuses, row by row, and how it says so (R36)."""

from __future__ import annotations

from io import StringIO

import pytest
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.core.management import call_command
from django.core.management.base import CommandError
from django_mfa.models import Authenticator as MFAAuthenticator
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice as OTPDevice

from django_totp.imports import sql

from .test_allauth import allauth_totp
from .test_django_otp import counts, run

pytestmark = pytest.mark.django_db


def test_shapes_of_device_this_package_cannot_check_are_refused_with_their_reason(user):
    # Values django-otp's own forms never make, but its columns hold.
    OTPDevice.objects.create(user=user, name="5 digits", confirmed=True, digits=5)
    OTPDevice.objects.create(user=user, name="10 s", confirmed=True, step=10)
    OTPDevice.objects.create(user=user, name="not hex", confirmed=True, key="zz" * 20)
    assert counts(run()) == {("totp", "digits"): 1, ("totp", "period"): 1, ("totp", "bad_key"): 1}


def test_backup_codes_of_an_unfinished_device_or_beyond_any_scheme_are_refused(user):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    unfinished = StaticDevice.objects.create(user=user, name="backup", confirmed=False)
    unfinished.token_set.create(token="aaaa2222")
    odd = StaticDevice.objects.create(user=user, name="odd")
    odd.token_set.create(token="código")
    assert counts(run()) == {
        ("backup_code", "bad_code"): 1,
        ("backup_code", "unconfirmed"): 1,
        ("totp", "imported"): 1,
    }


def test_allauth_codes_whose_seed_cannot_be_decrypted_are_a_bad_key(user):
    allauth_totp(user)
    RecoveryCodes.activate(user)
    report = run("--from", "allauth", "--decrypt", "tests.imports.adapters.refuse")
    assert counts(report) == {("backup_code", "bad_key"): 1, ("totp", "bad_key"): 1}


def test_allauth_migrated_codes_that_cannot_be_decrypted_are_a_bad_key(user):
    allauth_totp(user)
    codes = RecoveryCodes.activate(user)
    codes.instance.data["migrated_codes"] = ["sealed"]
    codes.instance.save()
    report = run("--from", "allauth", "--decrypt", "tests.imports.adapters.refuse")
    assert counts(report)[("backup_code", "bad_key")] == 1


@pytest.mark.parametrize("secret", [12345, "not base32!", "mfa1:tampered"])
def test_a_django_mfa_secret_that_is_no_key_is_a_bad_key(user, secret):
    MFAAuthenticator.objects.create(user=user, type="totp", data={"secret": secret})
    assert counts(run("--from", "django-mfa")) == {("totp", "bad_key"): 1}


def test_an_unknown_user_and_an_unimportable_decrypt_path_are_refused(user):
    with pytest.raises(CommandError, match="No user 'nobody'"):
        run("--user", "nobody")
    with pytest.raises(CommandError, match="does not import"):
        run("--from", "allauth", "--decrypt", "tests.imports.adapters.missing")


def test_the_table_report_says_what_a_dry_run_would_do(user):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    out = StringIO()
    call_command("totp_import", "--from", "django-otp", "--dry-run", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0] == "django-otp: 1 users with rows; would import devices for 1."
    assert lines[1].split() == ["totp", "imported", "1"]
    assert lines[-1] == "Dry run: nothing was changed."


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("2026-11-26 10:00:00", "2026-11-26T10:00:00+00:00"), ("garbage", None)],
)
def test_timestamps_read_as_text_become_aware_datetimes(value, expected):
    found = sql.as_datetime(value)
    assert (found.isoformat() if found else None) == expected
