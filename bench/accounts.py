"""Users, devices and codes for the benchmarks, made through each library's own API."""

from __future__ import annotations

import itertools
import time
from typing import Any

from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice as OTPDevice

from django_totp import oath
from django_totp.models import TOTPDevice

PASSWORD = "bench password that nobody types"
_numbers = itertools.count(1)


def new_user(prefix: str) -> Any:
    username = f"{prefix}-{next(_numbers)}"
    return get_user_model().objects.create_user(username=username, password=PASSWORD)


# -- django-totp -----------------------------------------------------------------------------


def totp_device(user: Any) -> TOTPDevice:
    """A confirmed device, as enrolment leaves it."""
    device = TOTPDevice.new_pending(user)
    device.confirmed = True
    device.confirmed_at = timezone.now()
    device.save()
    return device


def totp_code(device: TOTPDevice) -> str:
    return oath.code_at_step(
        device.secret, oath.time_step(time.time(), device.period), digits=device.digits
    )


def totp_wrong_code(device: TOTPDevice) -> str:
    """A well-formed code no step within two of now would accept."""
    now = oath.time_step(time.time(), device.period)
    near = {
        oath.code_at_step(device.secret, step, digits=device.digits)
        for step in range(now - 2, now + 3)
    }
    return next(str(d) * device.digits for d in range(10) if str(d) * device.digits not in near)


def totp_fresh(device: TOTPDevice) -> None:
    """Forget the last used step and the failures, so the next attempt takes the full path."""
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_used_step=None, failure_count=0, last_failure_at=None
    )


# -- django-otp ------------------------------------------------------------------------------


def otp_device(user: Any) -> OTPDevice:
    return OTPDevice.objects.create(user=user, name="bench", confirmed=True)


def otp_token(device: OTPDevice, offset: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + offset * device.step
    return f"{totp.token():0{device.digits}d}"


def otp_wrong_token(device: OTPDevice) -> str:
    near = {otp_token(device, offset) for offset in range(-2, 3)}
    return next(str(d) * device.digits for d in range(10) if str(d) * device.digits not in near)


def otp_fresh(device: OTPDevice) -> None:
    OTPDevice.objects.filter(pk=device.pk).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
