"""R8-R14: verification, replay, back-off and lock, through the service layer."""

from __future__ import annotations

import hmac
import logging
from unittest import mock

import pytest
import time_machine
from django.test.utils import override_settings

from django_totp import services, signals
from django_totp.conf import conf
from django_totp.models import TOTPDevice
from django_totp.services import Outcome

from .conftest import make_device, owner_request

pytestmark = pytest.mark.django_db
T0 = 1_700_000_010.0  # 10 s into a 30 s step


@pytest.fixture
def clock():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


def test_a_current_code_is_accepted_and_recorded(user, device, code_for, clock):
    result = services.verify_code(user, code_for(device))
    assert result.outcome is Outcome.ACCEPTED and result.device == device
    device.refresh_from_db()
    assert device.last_used_step == int(T0 // 30)
    assert device.last_used_at is not None


def test_the_same_code_is_refused_the_second_time(user, device, code_for, clock):
    code = code_for(device)
    assert services.verify_code(user, code).accepted
    assert services.verify_code(user, code).outcome is Outcome.REPLAYED


def test_a_code_stays_refused_for_its_whole_validity_window(user, device, code_for, clock):
    code = code_for(device)
    assert services.verify_code(user, code).accepted
    for seconds in (15, 30, 45, 60):
        clock.move_to(T0 + seconds)
        with override_settings(TOTP_THROTTLE_FACTOR=0):
            assert not services.verify_code(user, code).accepted


def test_an_older_code_is_refused_after_a_newer_one_was_used(user, device, code_for, clock):
    assert services.verify_code(user, code_for(device, offset=1)).accepted
    assert services.verify_code(user, code_for(device)).outcome is Outcome.REPLAYED


@pytest.mark.parametrize("offset", [-2, 2])
def test_codes_two_steps_away_are_refused(user, device, code_for, clock, offset):
    assert services.verify_code(user, code_for(device, offset=offset)).outcome is Outcome.INVALID


def test_a_wrong_code_counts_a_failure(user, device, clock):
    assert services.verify_code(user, "000000").outcome in (Outcome.INVALID,)
    device.refresh_from_db()
    assert device.failure_count == 1 and device.last_failure_at is not None


@pytest.mark.parametrize(
    "raw", ["١٢٣٤٥٦", "１２３４５６", "+12345", "123_456", "12345", "1" * 10_000, "12345\x00"]
)
def test_malformed_input_counts_as_a_failed_attempt(user, device, clock, raw):
    assert services.verify_code(user, raw).outcome is Outcome.INVALID
    device.refresh_from_db()
    assert device.failure_count == 1


def test_spaces_and_hyphens_in_a_code_are_ignored(user, device, code_for, clock):
    code = code_for(device)
    assert services.verify_code(user, f"{code[:3]} {code[3:]}").accepted


def test_back_off_refuses_even_a_correct_code(user, device, code_for, clock):
    services.verify_code(user, "000000")
    result = services.verify_code(user, code_for(device))
    assert result.outcome is Outcome.THROTTLED and result.retry_after == 1
    clock.shift(1.01)
    assert services.verify_code(user, code_for(device)).accepted


def test_back_off_doubles_with_each_failure(user, device, clock):
    waits = []
    for _ in range(5):
        services.verify_code(user, "000000")
        waits.append(services.verify_code(user, "000000").retry_after)
        clock.shift(waits[-1])
    assert waits == [1, 2, 4, 8, 16]


@override_settings(TOTP_THROTTLE_FACTOR=0, TOTP_MAX_FAILURES=3)
def test_device_locks_after_max_failures_and_a_correct_code_is_refused(
    user, device, code_for, clock, receive
):
    received = receive(signals.device_locked)
    for _ in range(3):
        services.verify_code(user, "000000")
    assert len(received) == 1 and received[0]["device"] == device
    result = services.verify_code(user, code_for(device))
    assert result.outcome is Outcome.LOCKED
    device.refresh_from_db()
    assert device.is_locked


@override_settings(TOTP_THROTTLE_FACTOR=0, TOTP_MAX_FAILURES=3)
def test_unlock_clears_the_lock(user, device, code_for, clock, staff_user):
    for _ in range(3):
        services.verify_code(user, "000000")
    services.unlock_device(device, actor=staff_user)
    assert services.verify_code(user, code_for(device)).accepted


@override_settings(TOTP_THROTTLE_FACTOR=0)
def test_only_a_successful_verification_resets_the_failure_count(user, device, code_for, clock):
    for _ in range(3):
        services.verify_code(user, "000000")
    device.refresh_from_db()
    assert device.failure_count == 3
    assert services.verify_code(user, code_for(device)).accepted
    device.refresh_from_db()
    assert device.failure_count == 0


def test_unconfirmed_devices_neither_satisfy_nor_block(user, code_for, clock):
    pending = make_device(user, confirmed=False)
    assert services.verify_code(user, code_for(pending)).outcome is Outcome.NO_DEVICE


def test_any_of_several_devices_is_accepted(user, code_for, clock):
    first = make_device(user)
    second = make_device(user, name="Backup phone")
    result = services.verify_code(user, code_for(second))
    assert result.accepted and result.device == second
    first.refresh_from_db()
    assert first.failure_count == 0


def test_another_users_code_is_refused(user, django_user_model, code_for, clock):
    make_device(user)
    other = django_user_model.objects.create_user(username="mallory", password="x")
    other_device = make_device(other)
    assert services.verify_code(user, code_for(other_device)).outcome is Outcome.INVALID


def test_confirming_activates_a_pending_device(user, code_for, clock):
    pending = services.start_setup(owner_request(user))
    assert not pending.confirmed
    result = services.confirm_device(pending, code_for(pending))
    assert result.accepted
    pending.refresh_from_db()
    assert pending.confirmed and pending.confirmed_at is not None


def test_a_wrong_code_does_not_activate_a_pending_device(user, clock):
    pending = services.start_setup(owner_request(user))
    assert services.confirm_device(pending, "000000").outcome is Outcome.INVALID
    pending.refresh_from_db()
    assert not pending.confirmed


def test_an_expired_setup_cannot_be_confirmed(user, code_for, clock):
    request = owner_request(user)
    pending = services.start_setup(request)
    clock.shift(conf.TOTP_SETUP_TIMEOUT + 1)
    assert services.pending_device(request) is None
    assert services.confirm_device(pending, code_for(pending)).outcome is Outcome.EXPIRED


def test_starting_setup_again_replaces_the_pending_device(user, clock):
    request = owner_request(user)
    first = services.start_setup(request)
    second = services.start_setup(request)
    assert not TOTPDevice.objects.filter(pk=first.pk).exists()
    assert services.pending_device(request) == second


def test_a_pending_enrolment_belongs_to_the_session_that_started_it(user, clock):
    mine, other_session = owner_request(user), owner_request(user)
    device = services.start_setup(mine)
    assert services.pending_device(other_session) is None
    theirs = services.start_setup(other_session)
    assert services.pending_device(mine) == device  # starting elsewhere took nothing away
    assert services.pending_device(other_session) == theirs


def test_expired_pending_enrolments_of_other_sessions_are_cleared(user, clock):
    abandoned = services.start_setup(owner_request(user))
    clock.shift(conf.TOTP_SETUP_TIMEOUT + 1)
    services.start_setup(owner_request(user))
    assert not TOTPDevice.objects.filter(pk=abandoned.pk).exists()


def test_reset_removes_every_device_of_the_user(user, staff_user, clock):
    make_device(user)
    make_device(user, confirmed=False)
    assert services.reset_user(user, actor=staff_user) == 2
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_signals_carry_their_documented_arguments(user, device, code_for, clock, receive):
    succeeded = receive(signals.verification_succeeded)
    failed = receive(signals.verification_failed)
    services.verify_code(user, "000000")
    clock.shift(5)
    services.verify_code(user, code_for(device))
    assert failed[0]["reason"] is Outcome.INVALID
    assert failed[0]["user"] == user
    assert succeeded[0]["device"] == device


def test_security_log_records_events_without_codes_or_secrets(
    user, device, code_for, clock, caplog
):
    good = code_for(device)
    with caplog.at_level(logging.INFO, logger="django_totp"):
        services.verify_code(user, "000000")
        clock.shift(5)
        services.verify_code(user, good)
        services.verify_code(user, good)
    events = [record.totp["event"] for record in caplog.records]
    assert events == ["verified_refused", "verified", "verified_refused"]
    assert caplog.records[0].totp["user_id"] == user.pk
    assert caplog.records[0].totp["device_id"] == device.pk
    text = caplog.text + repr([r.totp for r in caplog.records])
    assert good not in text and "000000" not in text and device.secret not in text


@override_settings(TOTP_THROTTLE_FACTOR=0, TOTP_MAX_FAILURES=2)
def test_locking_several_devices_at_once_is_signalled_and_logged_for_each(
    user, clock, caplog, receive
):
    devices = [make_device(user), make_device(user, name="Backup phone")]
    received = receive(signals.device_locked)
    with caplog.at_level(logging.INFO, logger="django_totp"):
        services.verify_code(user, "000000")
        result = services.verify_code(user, "000000")
    assert result.locked_out and set(result.newly_locked) == set(devices)
    assert {kw["device"] for kw in received} == set(devices)
    locked_logs = [r.totp["device_id"] for r in caplog.records if r.totp["event"] == "locked"]
    assert sorted(locked_logs) == sorted(d.pk for d in devices)


def test_every_enrolment_gets_its_own_secret(user, django_user_model):
    other = django_user_model.objects.create_user(username="bob", password="x")
    secrets = {services.start_setup(owner_request(u)).secret for u in (user, other, user, other)}
    assert len(secrets) == 4


def test_every_step_in_the_window_is_compared_in_constant_time(user, device, code_for, clock):
    with mock.patch("django_totp.oath.hmac.compare_digest", wraps=hmac.compare_digest) as spy:
        services.verify_code(user, "000000")
    assert spy.call_count == 2 * conf.TOTP_TOLERANCE + 1


def test_throttled_attempts_are_logged_with_their_reason(user, device, clock, caplog):
    with caplog.at_level(logging.INFO, logger="django_totp"):
        services.verify_code(user, "000000")
        services.verify_code(user, "000000")
    assert [r.totp.get("reason") for r in caplog.records] == ["invalid", "throttled"]


def test_turning_2fa_off_is_logged(user, device, caplog):
    with caplog.at_level(logging.INFO, logger="django_totp"):
        services.disable(owner_request(user))
    assert [(r.totp["event"], r.totp["actor_id"]) for r in caplog.records] == [
        ("disabled", user.pk)
    ]
