"""Switching from allauth's mfa: TOTP and recovery codes made with allauth's own API (R36)."""

from __future__ import annotations

import base64
import time

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from allauth.mfa.totp.internal.auth import TOTP, generate_totp_secret
from allauth.mfa.utils import encrypt
from django.core.management.base import CommandError

from django_totp import services
from django_totp.models import TOTPDevice
from django_totp.services import Outcome

from .test_django_otp import counts, oathtool, run, sign_in

pytestmark = pytest.mark.django_db


def allauth_totp(user) -> str:
    """What allauth's TOTP activation stores; the key as hex, for oathtool."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return base64.b32decode(secret).hex()


def test_an_allauth_user_keeps_app_and_unused_codes_used_ones_stay_refused(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    allauth_totp(user)
    codes = RecoveryCodes.activate(user)
    all_codes = codes.generate_codes()
    assert codes.validate_code(all_codes[2]) and codes.validate_code(all_codes[7])
    report = run("--from", "allauth")
    assert counts(report) == {("backup_code", "imported"): 8, ("totp", "imported"): 1}
    for index, code in enumerate(all_codes):
        accepted = services.verify_recovery_code(user, code).accepted
        assert accepted is (index not in (2, 7)), index
        assert not services.verify_recovery_code(user, code).accepted


def test_the_current_code_counts_as_used_since_allauth_kept_that_in_its_cache(user):
    hex_key = allauth_totp(user)
    run("--from", "allauth")
    assert services.verify_code(user, oathtool(hex_key)).outcome is Outcome.REPLAYED


def test_an_imported_allauth_user_signs_in_with_the_next_code(user, time_machine):
    time_machine.move_to(time.time(), tick=False)
    hex_key = allauth_totp(user)
    run("--from", "allauth")
    time_machine.shift(30)
    client = sign_in(user)
    response = client.post("/2fa/verify/", {"code": oathtool(hex_key)})
    assert response.status_code == 302 and client.get("/private/").status_code == 200


def test_migrated_codes_are_imported_and_a_code_used_there_since_is_used_here(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    allauth_totp(user)
    codes = RecoveryCodes.activate(user)
    # What allauth's migration from django-allauth-2fa leaves: each code as the adapter
    # encrypts it (the default adapter stores it as it is).
    codes.instance.data["migrated_codes"] = [encrypt("a1b2c3d4"), encrypt("e5f6g7h8")]
    codes.instance.save()
    first = counts(run("--from", "allauth"))
    assert first == {("backup_code", "imported"): 2, ("totp", "imported"): 1}
    assert codes.validate_code("a1b2c3d4")  # used at the old site before the switch
    assert counts(run("--from", "allauth")) == {
        ("backup_code", "already_imported"): 1,
        ("backup_code", "used_at_source"): 1,
        ("totp", "already_imported"): 1,
    }
    assert not services.verify_recovery_code(user, "a1b2c3d4").accepted
    assert services.verify_recovery_code(user, "E5F6-G7H8").accepted


def test_secrets_a_site_adapter_encrypted_are_decrypted_by_it(user, settings, time_machine):
    time_machine.move_to(time.time(), tick=False)
    settings.MFA_ADAPTER = "tests.imports.adapters.ReversingAdapter"
    hex_key = allauth_totp(user)
    stored = Authenticator.objects.get(type="totp").data["secret"]
    assert stored != base64.b32encode(bytes.fromhex(hex_key)).decode()
    assert counts(run("--from", "allauth")) == {("totp", "imported"): 1}
    time_machine.shift(30)
    assert services.verify_code(user, oathtool(hex_key)).accepted


def test_once_allauth_is_gone_a_site_adapter_needs_decrypt(user, settings, time_machine):
    """Reversed base32 is still base32: imported as it is, the key would be wrong."""
    time_machine.move_to(time.time(), tick=False)
    settings.MFA_ADAPTER = "tests.imports.adapters.ReversingAdapter"
    hex_key = allauth_totp(user)
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if not a.startswith("allauth")]
    with pytest.raises(CommandError, match="MFA_ADAPTER .* --decrypt"):
        run("--from", "allauth")
    assert not TOTPDevice.objects.exists()
    report = run("--from", "allauth", "--decrypt", "tests.imports.adapters.unreverse")
    assert counts(report) == {("totp", "imported"): 1}
    time_machine.shift(30)
    assert services.verify_code(user, oathtool(hex_key)).accepted


def test_a_secret_the_decrypt_function_cannot_read_is_a_bad_key(user, settings):
    allauth_totp(user)
    report = run("--from", "allauth", "--decrypt", "tests.imports.adapters.refuse")
    assert counts(report) == {("totp", "bad_key"): 1}


def test_kinds_allauth_may_add_later_are_reported_not_importable(user):
    Authenticator.objects.create(user=user, type="sms", data={})
    assert counts(run("--from", "allauth")) == {("other", "not_importable"): 1}
