"""The whole flow with a custom user model (e-mail login, UUID primary key)."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import get_user_model
from django.test import Client, override_settings

from django_totp import oath, remember, services
from django_totp.models import TOTPDevice

pytestmark = pytest.mark.django_db


def current_code(device: TOTPDevice, offset: int = 0) -> str:
    step = oath.time_step(time.time(), device.period) + offset
    return oath.code_at_step(device.secret, step, digits=device.digits)


def test_enrol_verify_and_reset_with_an_email_user():
    user = get_user_model().objects.create_user("ü.ser+x@example.com", "pw")
    client = Client()
    client.force_login(user)
    assert client.get("/private/")["Location"].startswith("/2fa/setup/")
    client.post("/2fa/setup/", {"start": "1"})
    device = TOTPDevice.objects.get(user=user)
    html = client.get("/2fa/setup/").content.decode()
    assert "otpauth://totp/Test%20Site:%C3%BC.ser%2Bx%40example.com?" in html
    response = client.post("/2fa/setup/", {"code": current_code(device)})
    assert response.status_code == 200
    recovery_codes = response.context["codes"]
    assert client.get("/private/").content == b"private page"

    other = Client()
    other.force_login(user)
    assert other.get("/private/")["Location"].startswith("/2fa/verify/")
    assert other.post("/2fa/verify/", {"code": current_code(device, 1)}).status_code == 302
    assert other.get("/private/").content == b"private page"

    third = Client()
    third.force_login(user)
    assert third.post("/2fa/verify/recovery/", {"code": recovery_codes[0]}).status_code == 302
    assert third.get("/private/").content == b"private page"

    with override_settings(TOTP_REMEMBER_DAYS=1):
        cookie = remember.cookie_value(user, device)
        assert remember.remembered_device(user, cookie) == device

    services.reset_user(user)
    assert client.get("/private/")["Location"].startswith("/login/")


def test_admin_search_uses_the_username_field():
    from django_totp.admin import TOTPDeviceAdmin

    admin = TOTPDeviceAdmin(TOTPDevice, None)
    assert admin.get_search_fields(None) == ["user__email", "name"]
