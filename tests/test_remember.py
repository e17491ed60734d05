"""R23: "remember this browser" skips only the code step, and only while nothing changed."""

from __future__ import annotations

import logging

import pytest
import time_machine
from django.test import Client

from django_totp import remember, services
from django_totp.models import TOTPDevice

from .conftest import PASSWORD, make_device, owner_request

pytestmark = pytest.mark.django_db
VERIFY = "/2fa/verify/"
COOKIE = "totp_remember"


@pytest.fixture(autouse=True)
def remember_thirty_days(settings):
    settings.TOTP_REMEMBER_DAYS = 30


def sign_in(client: Client, user, password: str = PASSWORD) -> None:
    """The password step through the site's real login view, cookies and all."""
    client.post("/login/", {"username": user.get_username(), "password": password})


def reaches_private_page(client: Client) -> bool:
    return client.get("/private/").status_code == 200


def remembered_client(user, device, code_for) -> Client:
    client = Client()
    sign_in(client, user)
    response = client.post(VERIFY, {"code": code_for(device), "remember": "on"})
    assert response.status_code == 302
    assert COOKIE in response.cookies
    client.post("/logout/")
    return client


def test_off_by_default_no_checkbox_and_old_cookies_count_for_nothing(
    user, device, code_for, settings
):
    client = remembered_client(user, device, code_for)
    settings.TOTP_REMEMBER_DAYS = 0
    sign_in(client, user)
    assert not reaches_private_page(client)
    assert 'name="remember"' not in client.get(VERIFY).content.decode()


def test_the_verify_form_offers_it_for_the_configured_days(password_client, device):
    html = password_client.get(VERIFY).content.decode()
    assert 'name="remember"' in html and "Don&#x27;t ask again on this browser for 30 days" in html


def test_the_cookie_is_signed_httponly_lax_and_lasts_the_configured_days(
    password_client, device, code_for
):
    response = password_client.post(VERIFY, {"code": code_for(device), "remember": "on"})
    cookie = response.cookies[COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"
    assert cookie["max-age"] == 30 * 86400
    assert not cookie["secure"]


def test_the_cookie_is_secure_when_the_session_cookie_is(
    password_client, device, code_for, settings
):
    settings.SESSION_COOKIE_SECURE = True
    response = password_client.post(VERIFY, {"code": code_for(device), "remember": "on"})
    assert response.cookies[COOKIE]["secure"]


def test_without_the_box_ticked_no_cookie_is_set(password_client, device, code_for):
    response = password_client.post(VERIFY, {"code": code_for(device)})
    assert COOKIE not in response.cookies


def test_a_remembered_browser_skips_the_code_step_after_the_password(
    user, device, code_for, caplog
):
    client = remembered_client(user, device, code_for)
    before = client.cookies["sessionid"].value
    with caplog.at_level(logging.INFO, logger="django_totp"):
        sign_in(client, user)
    assert reaches_private_page(client)
    assert client.cookies["sessionid"].value != before
    assert [r.totp["event"] for r in caplog.records if hasattr(r, "totp")] == ["remembered"]


def test_it_never_skips_the_password(user, device, code_for):
    client = remembered_client(user, device, code_for)
    assert client.get("/private/")["Location"].startswith("/login/")
    sign_in(client, user, password="wrong password")
    assert client.get("/private/")["Location"].startswith("/login/")


def test_a_tampered_cookie_is_ignored(user, device, code_for):
    client = remembered_client(user, device, code_for)
    value = client.cookies[COOKIE].value
    client.cookies[COOKIE] = value[:-2] + ("A" if value[-2] != "A" else "B") + value[-1]
    sign_in(client, user)
    assert client.get("/private/")["Location"].startswith(VERIFY)


def test_an_expired_cookie_is_ignored_even_if_the_browser_sends_it(user, device, code_for):
    with time_machine.travel(1_700_000_000, tick=False) as clock:
        client = remembered_client(user, device, code_for)
        clock.shift(30 * 86400 - 60)
        sign_in(client, user)
        assert reaches_private_page(client)
        client.post("/logout/")
        clock.shift(120)
        sign_in(client, user)
        assert client.get("/private/")["Location"].startswith(VERIFY)


def test_another_users_cookie_is_ignored(user, device, code_for, django_user_model):
    bob = django_user_model.objects.create_user("bob", password=PASSWORD)
    client = remembered_client(bob, make_device(bob), code_for)
    sign_in(client, user)
    assert client.get("/private/")["Location"].startswith(VERIFY)


def forget_by_staff_reset(user, device, staff_user):
    services.reset_user(user, actor=staff_user)
    make_device(user)


def forget_by_forget_all(user, device, staff_user):
    services.forget_browsers(owner_request(user))


def forget_by_password_change(user, device, staff_user):
    user.set_password(PASSWORD)  # the same password, a new hash: what a change does
    user.save()


def forget_by_removing_the_device(user, device, staff_user):
    make_device(user)
    assert services.remove_device(owner_request(user), device.pk)


def forget_by_re_enrolment(user, device, staff_user, code_for=None):
    services.disable(owner_request(user))
    pending = services.start_setup(owner_request(user))
    pending.confirmed = True
    pending.save()


@pytest.mark.parametrize(
    "forget",
    [
        forget_by_staff_reset,
        forget_by_forget_all,
        forget_by_password_change,
        forget_by_removing_the_device,
        forget_by_re_enrolment,
    ],
)
def test_remembered_browsers_stop_working_after(user, device, code_for, staff_user, forget):
    client = remembered_client(user, device, code_for)
    forget(user, device, staff_user)
    sign_in(client, user)
    assert not reaches_private_page(client)


def test_re_enrolling_through_the_pages_forgets_remembered_browsers(user, device, code_for):
    client = remembered_client(user, device, code_for)
    services.reset_user(user)
    other = Client()
    sign_in(other, user)
    other.post("/2fa/setup/", {"start": "1"})
    pending = TOTPDevice.objects.get(user=user)
    other.post("/2fa/setup/", {"code": code_for(pending)})
    sign_in(client, user)
    assert not reaches_private_page(client)


@pytest.mark.parametrize(("forget_on_recovery", "still_works"), [(False, True), (True, False)])
def test_a_recovery_code_login_forgets_browsers_if_the_site_wants(
    user, device, code_for, recovery_codes, settings, forget_on_recovery, still_works
):
    settings.TOTP_REMEMBER_FORGET_ON_RECOVERY = forget_on_recovery
    client = remembered_client(user, device, code_for)
    other = Client()
    sign_in(other, user)
    other.post("/2fa/verify/recovery/", {"code": recovery_codes[0]})
    sign_in(client, user)
    assert reaches_private_page(client) is still_works


def test_remembered_browser_use_is_signalled(user, device, code_for):
    from django_totp import signals

    received = []

    def receiver(**kwargs):
        received.append(kwargs)

    client = remembered_client(user, device, code_for)
    signals.remembered_browser_used.connect(receiver)
    try:
        sign_in(client, user)
    finally:
        signals.remembered_browser_used.disconnect(receiver)
    assert len(received) == 1 and received[0]["user"] == user


# R28: the attack of the 2026-11 review. Password + a remembered browser (a shared computer, a
# stolen laptop, an infostealer dump) must not change 2FA: every step-up page asks for a code.
STEP_UP_POSTS = [
    ("/2fa/manage/recovery-codes/", {}),
    ("/2fa/setup/", {"start": "1"}),
    ("/2fa/disable/", {}),
    ("/2fa/manage/browsers/forget/", {}),
]


@pytest.mark.parametrize(("path", "data"), STEP_UP_POSTS, ids=lambda v: str(v).strip("/"))
def test_a_remembered_browser_does_not_pass_step_up(user, device, code_for, path, data):
    services.regenerate_recovery_codes(owner_request(user))
    client = remembered_client(user, device, code_for)
    sign_in(client, user)
    assert reaches_private_page(client)  # the sign-in prompt is skipped, as promised
    codes_before = set(user.totp_recovery_codes.values_list("digest", flat=True))

    response = client.post(path, data)

    assert response.status_code in (200, 302)
    assert "Authentication code" in response.content.decode() or response["Location"].startswith(
        VERIFY
    )
    assert TOTPDevice.objects.filter(user=user).count() == 1
    assert set(user.totp_recovery_codes.values_list("digest", flat=True)) == codes_before
    assert remember.remembered_device(user, client.cookies[COOKIE].value) == device


def test_a_code_typed_in_a_remembered_session_passes_step_up(user, device, code_for):
    client = remembered_client(user, device, code_for)
    sign_in(client, user)
    assert client.get("/2fa/manage/")["Location"].startswith(VERIFY)
    client.post(VERIFY + "?next=/2fa/manage/", {"code": code_for(device, offset=1)})
    assert client.get("/2fa/manage/").status_code == 200
