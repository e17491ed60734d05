"""Attacks on bounded revocation (R17, R24, R27) where it meets step-up and enrolment."""

from __future__ import annotations

import time

import pytest
import time_machine
from django.conf import settings as django_settings
from django.contrib.auth import update_session_auth_hash
from django.http import HttpResponse
from django.test import Client
from django.urls import path

from django_totp import oath, services
from django_totp.conf import conf
from django_totp.models import TOTPDevice, VerifiedSession

from . import urls as base_urls
from .conftest import PASSWORD, make_device
from .test_revocation import poll_while

pytestmark = pytest.mark.django_db(transaction=True)


def change_password(request):
    request.user.set_password("new " + PASSWORD)
    request.user.save()
    update_session_auth_hash(request, request.user)
    return HttpResponse("changed")


urlpatterns = [
    path("change-password/", change_password),
    *base_urls.urlpatterns,
]


def verified_client(user, device, code_for, offset: int = 0) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    response = client.post("/2fa/verify/", {"code": code_for(device, offset=offset)})
    assert response.status_code == 302, response.content
    return client


def stolen_copy(client: Client) -> Client:
    thief = Client()
    name = django_settings.SESSION_COOKIE_NAME
    thief.cookies[name] = client.cookies[name].value
    return thief


def test_a_session_resurrected_by_the_file_engine_cannot_enrol_a_device_after_a_reset(
    django_user_model, code_for, settings, tmp_path
):
    """ATTACK: ``file`` engine (docs/deploying.md: any backend every process reaches) with
    SESSION_SAVE_EVERY_REQUEST. The thief polls with a stolen session while staff reset the
    user; a request in flight writes the session file back after the reset deleted it (the
    engine checks that the file exists, then renames a temp file over it). revocation.py admits
    this and relies on the re-check "within TOTP_RECHECK_SECONDS" - but in those seconds the
    trusted record also passes step-up (the owner typed a code < TOTP_STEP_UP_SECONDS ago), so
    the thief enrols an authenticator of their own, and the reset is undone for good."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.file"
    settings.SESSION_FILE_PATH = str(tmp_path)
    settings.SESSION_SAVE_EVERY_REQUEST = True
    for trial in range(60):
        user = django_user_model.objects.create_user(username=f"victim{trial}", password=PASSWORD)
        device = make_device(user)
        thief = stolen_copy(verified_client(user, device, code_for))
        poll_while(thief, lambda user=user: services.reset_user(user), threads=4)
        if thief.get("/private/").status_code == 200:
            break  # resurrected: the reset removed every device, yet this session is let in
    else:
        pytest.skip("no session survived the reset in 60 trials")
    print(f"\nresurrected at trial {trial}")
    # Within the interval: open setup and enrol the thief's own app.
    thief.post("/2fa/setup/", {"start": "1"})
    pending = TOTPDevice.objects.pending().filter(user=user).first()
    if pending is not None:
        thief.post(
            "/2fa/setup/",
            {
                "code": oath.code_at_step(
                    pending.secret,
                    oath.time_step(time.time(), pending.period),
                    digits=pending.digits,
                )
            },
        )
    with time_machine.travel(time.time() + conf.TOTP_RECHECK_SECONDS + 1, tick=False):
        still_in = thief.get("/private/").status_code == 200
    enrolled = TOTPDevice.objects.confirmed().filter(user=user).exists()
    assert not (enrolled or still_in), (
        f"after the reset the thief enrolled a device ({enrolled}) and stays signed in ({still_in})"
    )


def test_a_key_cycled_by_a_password_change_is_still_revoked_by_a_reset(user, code_for, settings):
    """HELD? update_session_auth_hash cycles the key; the VerifiedSession row has the old key;
    a reset before the next request cannot find the session by key, but the record's key no
    longer matches, so the next request re-checks."""
    settings.ROOT_URLCONF = __name__
    device = make_device(user)
    client = verified_client(user, device, code_for)
    old = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert client.get("/change-password/").status_code == 200
    assert client.cookies[django_settings.SESSION_COOKIE_NAME].value != old
    services.reset_user(user)
    assert client.get("/private/").status_code == 302


def test_a_key_cycled_by_a_password_change_is_recorded_again_then_revoked(user, code_for, settings):
    """HELD? as above, but a request after the key change records the new key first."""
    settings.ROOT_URLCONF = __name__
    device = make_device(user)
    client = verified_client(user, device, code_for)
    client.get("/change-password/")
    assert client.get("/private/").status_code == 200
    key = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    assert VerifiedSession.objects.filter(session_key=key).exists()
    services.reset_user(user)
    assert client.get("/private/").status_code == 302


def test_a_different_user_logging_in_on_a_verified_session_is_not_verified(
    user, code_for, django_user_model
):
    """HELD? login() of another user on a verified session."""
    device = make_device(user)
    client = verified_client(user, device, code_for)
    other = django_user_model.objects.create_user(username="mallory", password=PASSWORD)
    make_device(other)
    client.post("/login/", {"username": "mallory", "password": PASSWORD})
    assert client.get("/private/").status_code == 302


def test_an_old_signed_cookie_is_not_verified_after_the_reset_and_re_enrolment(
    user, code_for, settings
):
    """HELD? signed cookies: the client keeps a copy of its verified cookie, the owner resets
    and enrols again; the replayed copy names a device id that no longer exists."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    device = make_device(user)
    client = verified_client(user, device, code_for)
    saved = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    services.reset_user(user)
    make_device(user)
    replay = Client()
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = saved
    assert replay.get("/private/").status_code == 302


def test_a_replayed_signed_cookie_does_not_show_a_pending_secret_of_a_later_setup(
    user, code_for, settings
):
    """HELD? signed cookies: a cookie carrying _totp_setup of a pending device, replayed after
    the same session started a second setup (the first pending device was deleted)."""
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    device = make_device(user)
    client = verified_client(user, device, code_for)
    client.post("/2fa/setup/", {"start": "1"})
    first = TOTPDevice.objects.pending().get(user=user)
    saved = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    client.post("/2fa/setup/", {"start": "1"})
    second = TOTPDevice.objects.pending().get(user=user)
    assert first.pk != second.pk
    replay = Client()
    replay.cookies[django_settings.SESSION_COOKIE_NAME] = saved
    html = replay.get("/2fa/setup/").content.decode()
    for secret in (second.secret, first.secret):
        assert secret not in html and secret[:4] not in html


def test_self_removal_of_the_verifying_device_keeps_this_session_and_ends_the_others(
    user, code_for
):
    """HELD? rebind: session A verified by D1 removes D1; A stays verified (on D2), the thief's
    copy of another session verified by D1 ends, also after the interval."""
    d1 = make_device(user)
    d2 = make_device(user)
    a = verified_client(user, d1, code_for)
    b = verified_client(user, d1, code_for, offset=1)
    assert a.post(f"/2fa/manage/devices/{d1.pk}/remove/").status_code == 302
    assert not TOTPDevice.objects.filter(pk=d1.pk).exists()
    assert a.get("/private/").status_code == 200
    assert b.get("/private/").status_code == 302
    with time_machine.travel(time.time() + conf.TOTP_RECHECK_SECONDS + 1, tick=False):
        assert a.get("/private/").status_code == 200
    assert VerifiedSession.objects.filter(device=d2).count() == 1
