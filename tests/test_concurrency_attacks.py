"""Lock-order attacks on PostgreSQL: concurrent 2FA changes of one user (any response >= 500,
or an exception escaping a service, is a finding). Skipped on SQLite (one writer at a time)."""

from __future__ import annotations

import sys
import threading

import pytest
from django.db import connection, connections  # noqa: F401 (skipif)
from django.db.models.signals import pre_delete
from django.test import Client

from django_totp import events, services
from django_totp.models import TOTPDevice

from .conftest import PASSWORD, make_device

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif("connection.vendor != 'postgresql'", reason="row locks: PostgreSQL only"),
]


def stepped_up_client(user, device, code_for) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(device)}).status_code == 302
    return client


@pytest.mark.parametrize("other", ["reset", "remove_replaced_device"])
def test_restarting_a_replace_setup_while_the_replaced_device_is_removed_does_not_deadlock(
    user, code_for, other, monkeypatch
):
    """ATTACK: the owner restarts "replace my phone" (start_setup: deletes this session's earlier
    pending device P_old, inserts P_new with replaces=R: the FK takes KEY SHARE on R at commit)
    while staff reset the user, or another tab removes R. start_setup takes no account lock, so
    it holds P_old and wants R, while the reset holds R (locked in pk order) and wants P_old.
    The pre_delete hook only widens the window between start_setup's DELETE and its COMMIT."""
    r = make_device(user, name="old phone")
    spare = make_device(user, name="tablet")  # so that R may be removed by the owner
    tab1 = stepped_up_client(user, r, code_for)
    tab1.post("/2fa/setup/", {"start": "1", "replace": str(r.pk)})
    p_old = TOTPDevice.objects.pending().get(user=user)
    assert p_old.replaces_id == r.pk
    holding, results = threading.Event(), {}
    setup_thread = "setup"

    def widen(sender, instance, **kwargs):
        if threading.current_thread().name == setup_thread and instance.pk == p_old.pk:
            holding.set()
            threading.Event().wait(1.5)

    def restart_setup():
        try:
            response = tab1.post("/2fa/setup/", {"start": "1", "replace": str(r.pk)})
            results["setup"] = response.status_code
        except Exception as exc:  # escaping the view: a 500
            results["setup"] = repr(exc)
        finally:
            connections.close_all()

    def remove():
        assert holding.wait(10)
        try:
            if other == "reset":
                services.reset_user(user)
            else:
                results["remover_status"] = tab2_status()
            results["remover"] = "ok"
        except Exception as exc:
            results["remover"] = repr(exc)
        finally:
            connections.close_all()

    tab2 = stepped_up_client(user, spare, lambda d, **k: code_for(d, offset=0))

    def tab2_status():
        return tab2.post(f"/2fa/manage/devices/{r.pk}/remove/").status_code

    errors: list[str] = []
    log_event = events.log_event

    def record_error(event, **kwargs):
        if event == "database_error":
            errors.append(repr(sys.exc_info()[1]))
        return log_event(event, **kwargs)

    monkeypatch.setattr(events, "log_event", record_error)
    pre_delete.connect(widen, sender=TOTPDevice, weak=False)
    try:
        threads = [
            threading.Thread(target=restart_setup, name=setup_thread),
            threading.Thread(target=remove, name="remover"),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
    finally:
        pre_delete.disconnect(widen, sender=TOTPDevice)
    print("\n", other, results, errors)
    assert isinstance(results.get("setup"), int) and results["setup"] < 500, results
    assert results.get("remover") == "ok", results
    assert results.get("remover_status", 302) < 500, results


def test_a_storm_of_codes_recovery_codes_and_forget_browsers_on_one_user(
    user, code_for, settings, monkeypatch
):
    """Many sessions of one user with two devices at once: wrong and right codes (verify_code
    locks the confirmed devices FOR UPDATE ORDER BY pk), recovery codes (account, then one
    UPDATE of all the user's devices in heap order), forget-browsers (account, then the
    devices), and a staff reset midway. The first device is updated beforehand so that its
    row version sits after the second one's in the heap. Any 5xx or escaping exception fails.
    """
    from collections import Counter

    settings.TOTP_REMEMBER_DAYS = 30
    settings.TOTP_REMEMBER_FORGET_ON_RECOVERY = True
    d1 = make_device(user)
    make_device(user)
    TOTPDevice.objects.filter(pk=d1.pk).update(name="moved")  # new tuple after d2's
    owner = stepped_up_client(user, d1, code_for)
    codes = [
        c.replace("-", "").replace(" ", "")
        for c in services.regenerate_recovery_codes(_request_of(owner, user))
    ]
    statuses: Counter = Counter()
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def run(kind: str, i: int) -> None:
        client = Client()
        assert client.login(username=user.username, password=PASSWORD)
        barrier.wait()
        try:
            for round_ in range(6):
                if kind == "code":
                    r = client.post("/2fa/verify/", {"code": f"{i * 7 + round_:06d}"})
                elif kind == "recovery":
                    r = client.post("/2fa/verify/recovery/", {"code": codes[i % len(codes)]})
                elif kind == "reset":
                    if round_ == 3:
                        services.reset_user(user)
                    continue
                else:
                    r = owner.post("/2fa/manage/browsers/forget/")
                with lock:
                    statuses[(kind, r.status_code)] += 1
        except Exception as exc:
            with lock:
                statuses[(kind, repr(exc)[:80])] += 1
        finally:
            connections.close_all()

    kinds = ["code"] * 6 + ["recovery"] * 4 + ["forget", "reset"]
    threads = [threading.Thread(target=run, args=(k, i)) for i, k in enumerate(kinds)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    print("\n", dict(statuses))
    bad = {k: v for k, v in statuses.items() if not isinstance(k[1], int) or k[1] >= 500}
    assert not bad, bad


def _request_of(client: Client, user):
    from django.conf import settings as s
    from django.contrib.sessions.middleware import SessionMiddleware
    from django.http import HttpResponse
    from django.test import RequestFactory

    request = RequestFactory().post("/")
    request.COOKIES[s.SESSION_COOKIE_NAME] = client.cookies[s.SESSION_COOKIE_NAME].value
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = user
    return request
