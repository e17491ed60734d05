"""Attacks on step-up, clocks, pruning cost and the async path."""

from __future__ import annotations

import time

import pytest
import time_machine
from asgiref.sync import async_to_sync
from django.contrib.sessions.backends.db import SessionStore
from django.contrib.sessions.middleware import SessionMiddleware
from django.db import connection
from django.http import HttpResponse
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext

from django_totp import session, stepup
from django_totp.conf import conf
from django_totp.middleware import TOTPMiddleware
from django_totp.models import TOTPDevice, VerifiedSession

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db


def verified(user, device, code_for, offset=0) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(device, offset=offset)}).status_code == 302
    return client


def test_a_step_up_time_in_the_future_does_not_stretch_the_window(user, code_for):
    """ATTACK (clock skew): a worker whose clock is 1 h ahead records ``at`` in the future; on
    a correct worker ``now - at`` is negative, and ``stepped_up_within`` has no lower bound
    (holds_trusted_record has one for ``checked``), so step-up stays open ~1 h + 5 min."""
    device = make_device(user)
    real = time.time()
    with time_machine.travel(real + 3600, tick=False):
        client = verified(user, device, code_for)
    with time_machine.travel(real + conf.TOTP_STEP_UP_SECONDS + 60, tick=False):
        response = client.get("/2fa/manage/")
    assert response.status_code == 302, "step-up still open long after TOTP_STEP_UP_SECONDS"


def test_disable_needs_a_fresh_code_once_step_up_expired(user, code_for):
    """HELD? DisableView's fresh-code path: after the step-up window a wrong code changes
    nothing; a right one disables."""
    device = make_device(user)
    client = verified(user, device, code_for)
    with time_machine.travel(time.time() + conf.TOTP_STEP_UP_SECONDS + 1, tick=False) as clock:
        assert client.post("/2fa/disable/", {"code": "000000"}).status_code == 200
        assert TOTPDevice.objects.filter(pk=device.pk).exists()
        clock.shift(2)  # the back-off after the wrong code
        client.post("/2fa/disable/", {"code": code_for(device, offset=1)})
        assert not TOTPDevice.objects.filter(pk=device.pk).exists()


def test_a_remembered_session_cannot_disable_without_typing_a_code(user, code_for, settings):
    """HELD? a remembered sign-in must type a code on the disable page."""
    settings.TOTP_REMEMBER_DAYS = 30
    device = make_device(user)
    first = Client()
    first.post("/login/", {"username": user.username, "password": PASSWORD})
    cookie = first.post("/2fa/verify/", {"code": code_for(device), "remember": "on"}).cookies
    thief = Client()
    thief.cookies["totp_remember"] = cookie["totp_remember"].value
    thief.post("/login/", {"username": user.username, "password": PASSWORD})
    assert thief.get("/private/").status_code == 200
    thief.post("/2fa/disable/", {})
    thief.post("/2fa/disable/", {"code": "000000"})
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


@pytest.mark.parametrize("sessions", [200])
def test_a_verification_costs_a_bounded_number_of_queries_for_a_user_with_many_sessions(
    user, code_for, sessions
):
    """ATTACK (cost): revocation.record calls store.exists() for every VerifiedSession row of
    the user at each verification, holding the device row lock: O(sessions) queries."""
    device = make_device(user)
    store = SessionStore()
    for _ in range(sessions):
        s = SessionStore()
        s.create()
        VerifiedSession.objects.create(device=device, session_key=s.session_key)
    request = RequestFactory().post("/2fa/verify/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = user
    session.start_pending(request)
    with CaptureQueriesContext(connection) as queries:
        assert session.mark_verified(request, device)
    print(f"\n{len(queries)} queries for one verification with {sessions} live sessions")
    del store
    assert len(queries) < 30


def test_an_async_exempt_view_can_read_request_totp(user):
    """ATTACK (async): __acall__ decides in a thread, but request.totp stays lazy for exempt
    views; an async exempt view that reads it runs the device query in the event loop."""
    device = make_device(user)

    async def view(request):
        return HttpResponse(str(request.totp.is_verified))

    from django_totp.decorators import totp_exempt  # noqa: F401

    request = RequestFactory().get("/help/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = user
    session.start_pending(request)
    assert session.mark_verified(request, device)
    request.session[session.VERIFIED_KEY]["checked"] = 0  # due for a re-check
    middleware = TOTPMiddleware(view)
    response = async_to_sync(middleware)(request)
    assert response.content == b"True"


def test_request_totp_is_current_after_removing_the_last_device_in_the_same_request(user, code_for):
    """HELD? (request.totp after rebind): with the last device removed in this request, does a
    step-up check later in the same request still pass on the stale state?"""
    device = make_device(user)
    request = RequestFactory().post("/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = user
    session.start_pending(request)
    assert session.mark_verified(request, device)
    from django_totp import services

    assert services.remove_device(request, device.pk)
    # No device left: step-up is trivially satisfied (first enrolment); state must say so.
    assert session.state_of(request).has_device is False, "request.totp is stale after rebind"
    assert stepup.satisfied(request)
