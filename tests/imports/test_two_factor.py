"""Switching from django-two-factor-auth: its setup form and backup tokens, for real (R36)."""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.util import random_hex
from two_factor.forms import TOTPDeviceForm
from two_factor.plugins.phonenumber.models import PhoneDevice

from django_totp import services
from django_totp.models import TOTPDevice

from .test_django_otp import counts, oathtool, run, sign_in

pytestmark = pytest.mark.django_db


def set_up_with_two_factor(user) -> str:
    """What two-factor's setup wizard does: the form checks a code, then saves the device."""
    key = random_hex()
    form = TOTPDeviceForm(key=key, user=user, data={"token": oathtool(key)})
    assert form.is_valid(), form.errors
    form.save()
    return key


def two_factor_backup_tokens(user) -> list[str]:
    """What two-factor's BackupTokensView does on POST."""
    device, _ = user.staticdevice_set.get_or_create(defaults={"name": "backup"})
    device.token_set.all().delete()
    for _n in range(10):
        device.token_set.create(token=StaticToken.random_token())
    return list(device.token_set.values_list("token", flat=True))


def test_a_two_factor_user_keeps_app_and_backup_tokens_and_phone_is_reported(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    key = set_up_with_two_factor(user)
    tokens = two_factor_backup_tokens(user)
    PhoneDevice.objects.create(user=user, name="backup", number="+31101234567", method="sms")
    report = run("--from", "two-factor")
    assert counts(report) == {
        ("backup_code", "imported"): 10,
        ("phone", "not_importable"): 1,
        ("totp", "imported"): 1,
    }
    client = sign_in(user)
    response = client.post("/2fa/verify/", {"code": oathtool(key)})
    assert response.status_code == 302 and client.get("/private/").status_code == 200
    assert all(services.verify_recovery_code(user, token).accepted for token in tokens)
    assert not services.verify_recovery_code(user, tokens[0]).accepted


def test_importing_through_either_name_counts_for_the_other(user):
    set_up_with_two_factor(user)
    run("--from", "django-otp")
    assert counts(run("--from", "two-factor")) == {("totp", "already_imported"): 1}
    assert TOTPDevice.objects.count() == 1


def test_django_otp_as_the_source_does_not_report_two_factors_phones(user):
    PhoneDevice.objects.create(user=user, name="backup", number="+31101234567", method="sms")
    assert counts(run("--from", "django-otp")) == {}
