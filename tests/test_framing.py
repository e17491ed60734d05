"""Every page of the package refuses to be framed by itself, without the site's
XFrameOptionsMiddleware (which the test settings leave out): clickjacking a "Yes, reset" or
"Turn off" button must not depend on the site's middleware."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db


def assert_not_frameable(response) -> None:
    assert response["X-Frame-Options"] == "DENY", response
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"], response


@pytest.mark.parametrize(
    "name",
    ["verify", "recovery", "setup", "disable", "manage", "recovery_codes", "forget_browsers"],
)
def test_every_page_of_a_verified_user_denies_framing(verified_client, name):
    response = verified_client.get(reverse(f"django_totp:{name}"))
    assert response.status_code == 200
    assert_not_frameable(response)


@pytest.mark.parametrize("name", ["rename", "remove"])
def test_every_device_page_denies_framing(verified_client, device, name):
    response = verified_client.get(reverse(f"django_totp:{name}", args=[device.pk]))
    assert response.status_code == 200
    assert_not_frameable(response)


def test_the_pages_a_password_only_session_sees_deny_framing(password_client, device, settings):
    assert_not_frameable(password_client.get(reverse("django_totp:verify")))
    assert_not_frameable(password_client.get(reverse("django_totp:recovery")))
    response = password_client.post(reverse("django_totp:verify"), {"code": "12"})
    assert response.status_code == 200  # the form again, with its error
    assert_not_frameable(response)


def test_the_enrolment_and_recovery_code_pages_deny_framing(client, user, code_for):
    client.login(username=user.username, password=PASSWORD)
    assert_not_frameable(client.get(reverse("django_totp:setup")))
    client.post(reverse("django_totp:setup"), {"start": "1"})
    response = client.get(reverse("django_totp:setup"))  # the QR code and the secret
    assert "otpauth://" in response.content.decode()
    assert_not_frameable(response)
    pending = user.totp_devices.get()
    response = client.post(reverse("django_totp:setup"), {"code": code_for(pending)})
    assert response.context["codes"]  # the recovery codes, shown once
    assert_not_frameable(response)


@pytest.mark.parametrize("operation", ["reset", "unlock"])
def test_the_admin_confirmation_pages_deny_framing(staff_user, user, code_for, operation):
    make_device(user, failure_count=3)
    client = Client()
    client.login(username=staff_user.username, password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(make_device(staff_user))}).status_code
    response = client.get(f"/admin/django_totp/totpdevice/user/{user.pk}/{operation}/")
    assert response.status_code == 200 and "Yes, " in response.content.decode()
    assert_not_frameable(response)
