from __future__ import annotations

import datetime
import io
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from django_totp import crypto, services, signals
from django_totp.models import TOTPDevice

from .conftest import make_device

pytestmark = pytest.mark.django_db
ROOT = Path(__file__).resolve().parent.parent
OLD, NEW = "old-key-" + "o" * 40, "new-key-" + "n" * 40


def test_rotate_keys_moves_every_secret_to_the_newest_key(user, settings):
    settings.TOTP_ENCRYPTION_KEYS = [OLD]
    devices = [make_device(user), make_device(user, confirmed=False)]
    secrets = [d.secret for d in devices]
    settings.TOTP_ENCRYPTION_KEYS = [NEW, OLD]
    out = io.StringIO()
    call_command("totp_rotate_keys", stdout=out)
    assert "Re-encrypted 2 secret(s)" in out.getvalue()
    settings.TOTP_ENCRYPTION_KEYS = [NEW]
    for device, secret in zip(devices, secrets, strict=True):
        device.refresh_from_db()
        assert device.secret == secret


def test_rotate_keys_changes_nothing_when_a_secret_cannot_be_read(user, settings):
    settings.TOTP_ENCRYPTION_KEYS = [OLD]
    readable = make_device(user)
    before = readable.encrypted_secret
    settings.TOTP_ENCRYPTION_KEYS = ["unrelated-" + "u" * 40]
    orphan = make_device(user)
    settings.TOTP_ENCRYPTION_KEYS = [NEW, OLD]
    with pytest.raises(CommandError, match=str(orphan.pk)):
        call_command("totp_rotate_keys", stdout=io.StringIO())
    readable.refresh_from_db()
    assert readable.encrypted_secret == before
    with pytest.raises(crypto.SecretDecryptionError):
        orphan.refresh_from_db()
        _ = orphan.secret


# -- totp_reset and totp_unlock: for when nobody can reach the admin --


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_totp_reset_removes_the_users_devices_through_the_service(user, receive, caplog):
    make_device(user)
    make_device(user, confirmed=False)
    reset = receive(signals.devices_reset)
    with caplog.at_level(logging.INFO, logger="django_totp"):
        out = run("totp_reset", "alice")
    assert "Two-factor authentication reset for alice: 2 device(s) removed." in out
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert reset[0]["user"] == user and reset[0]["actor"] is None
    (record,) = [r.totp for r in caplog.records if getattr(r, "totp", None)]
    assert record["event"] == "reset" and record["actor_id"] is None


def test_totp_reset_of_a_user_without_devices_says_so_and_sends_nothing(user, receive):
    reset = receive(signals.devices_reset)
    assert "alice has no two-factor devices; nothing to reset." in run("totp_reset", "alice")
    assert reset == []


@pytest.mark.parametrize("command", ["totp_reset", "totp_unlock"])
def test_an_unknown_user_is_a_clear_command_error(user, command):
    make_device(user)
    with pytest.raises(CommandError, match="No user with username 'nobody'. Nothing was changed."):
        run(command, "nobody")
    assert TOTPDevice.objects.filter(user=user).count() == 1


def test_totp_unlock_clears_the_failures_through_the_service(user, settings, receive):
    settings.TOTP_MAX_FAILURES = 5
    locked = make_device(user, name="Phone", failure_count=5)
    slowed = make_device(user, name="Spare", failure_count=2)
    untouched = make_device(user, name="Tablet")
    unlocked = receive(signals.device_unlocked)
    out = run("totp_unlock", "alice")
    assert f"Unlocked 'Phone' (id {locked.pk}, was locked)." in out
    assert f"Unlocked 'Spare' (id {slowed.pk}, was not locked)." in out
    assert "Cleared the failed attempts of 2 device(s)." in out
    for device in (locked, slowed):
        device.refresh_from_db()
        assert device.failure_count == 0 and device.last_failure_at is None
    assert {kw["device"] for kw in unlocked} == {locked, slowed}
    assert all(kw["actor"] is None for kw in unlocked)
    assert untouched not in {kw["device"] for kw in unlocked}


def test_totp_unlock_with_nothing_to_unlock_says_so(device):
    assert "No device of alice has failed attempts; nothing to unlock." in run(
        "totp_unlock", "alice"
    )


@pytest.mark.django_db(transaction=True)
def test_manage_py_totp_reset_of_an_unknown_user_exits_non_zero(tmp_path):
    # The child process uses this test's database, so the lookup itself fails, not the setup.
    db = connection.settings_dict
    keys = ("ENGINE", "NAME", "USER", "PASSWORD", "HOST", "PORT")
    (tmp_path / "child_settings.py").write_text(
        "from tests.settings import *  # noqa\n"
        f"DATABASES = {{'default': { ({k: db[k] for k in keys})!r}}}\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "child_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), str(ROOT)]),
    }
    child = subprocess.run(
        [sys.executable, "manage.py", "totp_reset", "nobody"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert child.returncode != 0
    assert "No user with username 'nobody'. Nothing was changed." in child.stderr
    assert "Traceback" not in child.stderr


# -- totp_status --


@pytest.fixture
def population(django_user_model, settings):
    """alice: recent device; bob: locked; carol: used 100 days ago; dave: setup unfinished;
    erin: nothing."""
    settings.TOTP_MAX_FAILURES = 5
    now = timezone.now()
    people = {
        name: django_user_model.objects.create_user(username=name)
        for name in ("alice", "bob", "carol", "dave", "erin")
    }
    make_device(people["alice"], last_used_at=now)
    make_device(people["alice"], name="Spare", last_used_at=now - datetime.timedelta(days=10))
    make_device(people["bob"], failure_count=5, last_used_at=now)
    make_device(people["carol"], last_used_at=now - datetime.timedelta(days=100))
    make_device(people["dave"], confirmed=False)
    return people


def test_totp_status_counts_users_devices_locks_and_unused_devices(population):
    out = run("totp_status")
    assert out.splitlines() == [
        "Users:                       5",
        "Users with 2FA:              3",
        "Security keys:               0",
        "Confirmed devices:           4",
        "Unfinished setups:           1",
        "Locked devices:              1",
        "Devices unused for 90+ days: 1",
    ]


def test_totp_status_json_for_scripts(population):
    assert json.loads(run("totp_status", "--json", "--unused-days", "7")) == {
        "users": 5,
        "enrolled_users": 3,
        "security_keys": 0,
        "confirmed_devices": 4,
        "pending_devices": 1,
        "locked_devices": 1,
        "unused_devices": 2,
        "unused_days": 7,
    }


def test_totp_status_makes_two_queries_whatever_the_numbers(
    population, django_user_model, django_assert_num_queries
):
    with django_assert_num_queries(2):
        run("totp_status", "--json")
    for n in range(20):
        make_device(django_user_model.objects.create_user(username=f"extra{n}"))
    with django_assert_num_queries(2):
        assert json.loads(run("totp_status", "--json"))["enrolled_users"] == 23


def test_totp_status_refuses_negative_days():
    with pytest.raises(CommandError, match="--unused-days must be 0 or more"):
        run("totp_status", "--unused-days", "-1")


def test_totp_unlock_clears_a_recovery_code_lock(user, device, recovery_codes, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    settings.TOTP_MAX_FAILURES = 2
    for _ in range(2):
        services.verify_recovery_code(user, "zzzz-zzzz-zzzz")
    out = run("totp_unlock", "alice")
    assert "Cleared the failed attempts of 1 device(s)." in out
    assert services.verify_recovery_code(user, recovery_codes[0]).accepted
