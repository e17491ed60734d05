"""Attacks on "remember this browser" (R23) where it meets forget-browsers and sessions."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.test import Client

from django_totp import services, signals
from django_totp.conf import conf
from django_totp.models import VerifiedSession

from .conftest import PASSWORD, owner_request

pytestmark = pytest.mark.django_db(transaction=True)
VERIFY = "/2fa/verify/"
COOKIE = "totp_remember"


@pytest.fixture(autouse=True)
def remember_thirty_days(settings):
    settings.TOTP_REMEMBER_DAYS = 30


def remember_cookie(user, device, code_for) -> str:
    client = Client()
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    response = client.post(VERIFY, {"code": code_for(device), "remember": "on"})
    assert response.status_code == 302
    return response.cookies[COOKIE].value


def test_forgetting_browsers_between_the_cookie_check_and_the_recording_ends_that_sign_in(
    user, device, code_for
):
    """ATTACK: the thief (password + stolen remember cookie) signs in while the owner presses
    "forget all browsers". The cookie is checked against the OLD token, forget-browsers commits
    (no session recorded yet, so nothing to end), then mark_verified reads the NEW token and
    stamps the session with its digest: the re-check then agrees with it forever.
    The signal ``remembered_browser_used`` fires exactly in that window; it only marks it."""
    cookie = remember_cookie(user, device, code_for)

    def owner_forgets(sender, **kwargs):
        services.forget_browsers(owner_request(user))

    signals.remembered_browser_used.connect(owner_forgets, weak=False)
    try:
        thief = Client()
        thief.cookies[COOKIE] = cookie
        thief.post("/login/", {"username": user.username, "password": PASSWORD})
    finally:
        signals.remembered_browser_used.disconnect(owner_forgets)
    # The cookie itself is dead for future sign-ins ...
    later = Client()
    later.cookies[COOKIE] = cookie
    later.post("/login/", {"username": user.username, "password": PASSWORD})
    assert later.get("/private/").status_code == 302
    # ... but the session it signed in must not outlive "forget all browsers" either.
    with time_machine.travel(time.time() + conf.TOTP_RECHECK_SECONDS + 1, tick=False):
        assert thief.get("/private/").status_code != 200, (
            "remembered session survived forget-browsers (record carries the new token digest)"
        )


def test_remembered_session_after_forget_browsers_on_signed_cookies_replay(
    user, device, code_for, settings
):
    """HELD? signed cookies: replaying the cookie the remembered sign-in got, after the owner
    forgot browsers, must not be verified (digest of the old token)."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    cookie = remember_cookie(user, device, code_for)
    thief = Client()
    thief.cookies[COOKIE] = cookie
    thief.post("/login/", {"username": user.username, "password": PASSWORD})
    assert thief.get("/private/").status_code == 200
    saved = thief.cookies["sessionid"].value
    services.forget_browsers(owner_request(user))
    replay = Client()
    replay.cookies["sessionid"] = saved
    assert replay.get("/private/").status_code != 200
    assert not VerifiedSession.objects.filter(method="remembered").exists()
