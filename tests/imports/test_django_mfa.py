"""Switching from django-mfa 4.x: devices made through its own adapters (R36)."""

from __future__ import annotations

import base64
import time

import pytest
from django.test import RequestFactory
from django_mfa.adapters.recovery_codes import RecoveryCodesAdapter
from django_mfa.adapters.totp import TOTPAdapter, generate_secret
from django_mfa.models import Authenticator

from django_totp import services
from django_totp.services import Outcome

from .test_django_otp import counts, oathtool, run

pytestmark = pytest.mark.django_db


def request_of(user):
    request = RequestFactory().post("/")
    request.user = user
    request.session = {}
    return request


def enrol_with_django_mfa(user) -> str:
    """django-mfa's TOTP enrolment, through its adapter; the key as hex, for oathtool."""
    secret = generate_secret()
    hex_key = base64.b32decode(secret).hex()
    TOTPAdapter().complete_enroll(
        request_of(user), {"secret_key": secret, "code": oathtool(hex_key)}
    )
    return hex_key


def mfa(*args: str) -> dict:
    return run("--from", "django-mfa", *args)


@pytest.mark.parametrize("keys", [None, ["first key", "second key"]])
def test_a_django_mfa_user_keeps_their_app_encrypted_or_not(user, settings, keys):
    settings.MFA_SECRET_ENCRYPTION_KEYS = keys
    hex_key = enrol_with_django_mfa(user)
    stored = Authenticator.objects.get(type="totp").data["secret"]
    assert stored.startswith("mfa1:") is bool(keys)
    assert counts(mfa()) == {("totp", "imported"): 1}
    code = oathtool(hex_key, at=time.time() + 30)
    assert services.verify_code(user, code).accepted


def test_a_secret_signed_with_a_key_no_longer_set_is_a_bad_key(user, settings):
    settings.MFA_SECRET_ENCRYPTION_KEYS = ["retired key"]
    enrol_with_django_mfa(user)
    settings.MFA_SECRET_ENCRYPTION_KEYS = ["another key"]
    assert counts(mfa()) == {("totp", "bad_key"): 1}


def test_the_code_django_mfa_accepted_last_is_a_replay(user):
    hex_key = enrol_with_django_mfa(user)
    code = oathtool(hex_key, at=time.time() + 30)
    assert TOTPAdapter().complete_verify(request_of(user), user, {"code": code})
    mfa()
    assert services.verify_code(user, code).outcome is Outcome.REPLAYED


def test_hashed_recovery_codes_are_reported_plain_migrated_ones_imported(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    enrol_with_django_mfa(user)
    RecoveryCodesAdapter().generate(user)
    assert counts(mfa("--dry-run")) == {("backup_code", "hashed"): 10, ("totp", "imported"): 1}
    # What django-mfa's own migration from its 1.x tables leaves: plain codes, flagged.
    Authenticator.objects.filter(type="recovery_codes").update(
        data={"codes": ["Ab3dEf7hJk", "Zz9yXx8wVv"], "used": [1], "migrated_plaintext": True}
    )
    assert counts(mfa()) == {("backup_code", "imported"): 1, ("totp", "imported"): 1}
    assert services.verify_recovery_code(user, "AB3DEF7HJK").accepted  # case is forgiven
    assert not services.verify_recovery_code(user, "Zz9yXx8wVv").accepted


def test_emailed_codes_and_kinds_it_may_add_later_are_reported_not_importable(user):
    Authenticator.objects.create(user=user, type="email", data={})
    Authenticator.objects.create(user=user, type="sms", data={})
    assert counts(mfa()) == {("email", "not_importable"): 1, ("other", "not_importable"): 1}
