"""R10, R13: simultaneous submissions, with real threads and one connection each.

Runs on SQLite (a file database) and, under ``tests.pg``, on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest
from django.test import Client

from django_totp.models import RecoveryCode, TOTPAccount, TOTPDevice

from .concurrency import at_once
from .conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)
CLIENTS = 20


def logged_in_clients(user, count: int) -> list[Client]:
    clients = []
    for _ in range(count):
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        clients.append(client)
    return clients


def all_at_once(clients: list[Client], submit: Callable[[Client], int]) -> Counter[object]:
    """``submit`` for every client in a thread of its own, released together; an exception
    escaping the view counts as its repr (a 500, for this purpose)."""
    waiting = list(clients)
    return Counter(at_once(len(clients), submit, waiting.pop))


def test_the_same_code_submitted_at_once_succeeds_exactly_once(user, device, code_for):
    clients = logged_in_clients(user, CLIENTS)
    code = code_for(device)
    statuses = all_at_once(clients, lambda c: c.post("/2fa/verify/", {"code": code}).status_code)
    print(f"\n{CLIENTS} concurrent submissions of one code: {dict(statuses)}")
    assert statuses == Counter({302: 1, 200: CLIENTS - 1})
    verified = [c for c in clients if c.get("/private/").status_code == 200]
    assert len(verified) == 1


@pytest.mark.parametrize(
    ("path", "wrong", "counter"),
    [
        ("/2fa/verify/", "000000", TOTPDevice),
        ("/2fa/verify/recovery/", "zzzz-zzzz-zzzz", TOTPAccount),
    ],
    ids=["codes", "recovery_codes"],
)
def test_concurrent_wrong_guesses_lose_no_failure_increments(
    user, recovery_codes, settings, path, wrong, counter
):
    settings.TOTP_THROTTLE_FACTOR = 0
    settings.TOTP_MAX_FAILURES = 100
    clients = logged_in_clients(user, CLIENTS)
    statuses = all_at_once(clients, lambda c: c.post(path, {"code": wrong}).status_code)
    assert statuses == Counter({200: CLIENTS})
    assert counter.objects.get(user=user).failure_count == CLIENTS


def test_concurrent_confirmations_activate_the_device_once(user, code_for, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    clients = logged_in_clients(user, 5)
    clients[0].post("/2fa/setup/", {"start": "1"})
    pending = TOTPDevice.objects.get(user=user)
    code = code_for(pending)
    statuses = all_at_once(clients, lambda c: c.post("/2fa/setup/", {"code": code}).status_code)
    assert not [status for status in statuses if status >= 500]
    assert TOTPDevice.objects.filter(user=user, confirmed=True).count() == 1
    # Losers are sent back to setup, which now asks them to verify: one session got through.
    assert [c.get("/private/").status_code for c in clients].count(200) == 1


def test_one_recovery_code_submitted_at_once_succeeds_exactly_once(user, recovery_codes):
    clients = logged_in_clients(user, CLIENTS)
    code = recovery_codes[0]
    statuses = all_at_once(
        clients, lambda c: c.post("/2fa/verify/recovery/", {"code": code}).status_code
    )
    print(f"\n{CLIENTS} concurrent submissions of one recovery code: {dict(statuses)}")
    assert statuses == Counter({302: 1, 200: CLIENTS - 1})
    assert [c.get("/private/").status_code for c in clients].count(200) == 1
    assert RecoveryCode.objects.unused().filter(user=user).count() == 9
