"""R15: one structured record per security event, and never a code or a secret in the log."""

from __future__ import annotations

import logging

import pytest
from django.test import Client

from django_totp import services
from django_totp.models import TOTPDevice

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db


def test_a_full_scenario_logs_every_event_without_codes_or_secrets(
    user, staff_user, code_for, settings, caplog
):
    settings.TOTP_REQUIRED_FOR = "everyone"
    settings.TOTP_THROTTLE_FACTOR = 0
    settings.TOTP_MAX_FAILURES = 2
    typed = []

    def post_code(client: Client, path: str, code: str) -> None:
        typed.append(code)
        client.post(path, {"code": code}, REMOTE_ADDR="203.0.113.7")

    with caplog.at_level(logging.INFO, logger="django_totp"):
        client = Client()
        client.login(username=user.username, password=PASSWORD)
        client.post("/2fa/setup/", {"start": "1"})
        device = TOTPDevice.objects.get(user=user)
        secret = device.secret
        enrolment_code = code_for(device)
        post_code(client, "/2fa/setup/", "111111")
        post_code(client, "/2fa/setup/", enrolment_code)
        second = Client()
        second.login(username=user.username, password=PASSWORD)
        post_code(second, "/2fa/verify/", enrolment_code)  # replayed, even across a step boundary
        post_code(second, "/2fa/verify/", "222222")  # second failure since success: locked
        post_code(
            second, "/2fa/verify/", code_for(device, offset=1)
        )  # a valid code, refused: locked
        staff_device = make_device(staff_user)
        services.unlock_device(device, actor=staff_user)
        services.reset_user(user, actor=staff_user)

    records = [r.totp for r in caplog.records if hasattr(r, "totp")]
    events = [r["event"] for r in records]
    assert events == [
        "enrolled_refused",
        "enrolled",
        "verified_refused",
        "verified_refused",
        "locked",
        "verified_refused",
        "unlocked",
        "reset",
    ]
    assert [r.get("reason") for r in records if r["event"] == "verified_refused"] == [
        "replayed",
        "invalid",
        "locked",
    ]
    for record in records:
        assert record["user_id"] == user.pk and record["time"]
    assert {r["ip"] for r in records[:6]} == {"203.0.113.7"}
    assert records[1]["device_id"] == device.pk
    assert records[-1]["actor_id"] == staff_user.pk

    logged = caplog.text + repr(records)
    for secret_text in [*typed, secret, staff_device.secret]:
        assert secret_text not in logged
