"""Passkey sign-in (W8-W11): the service and its views against real py_webauthn verification.

Every response comes from ``tests.authenticator.SoftAuthenticator``; each refusal below is an
attack performed, not a mocked branch.
"""

from __future__ import annotations

import json
import logging

import pytest
import time_machine
from django.contrib.auth import SESSION_KEY, get_user
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.contrib.sessions.middleware import SessionMiddleware
from django.core import checks as django_checks
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.template import Context, Template
from django.test import RequestFactory

from django_totp import ceremonies, checks, passkeys, remember, services, session, signals, stepup
from django_totp.ceremonies import Purpose
from django_totp.conf import InvalidSetting, conf
from django_totp.models import VerificationMethod, VerifiedSession, WebAuthnCredential
from django_totp.revocation import session_store
from django_totp.services import Outcome

from .authenticator import RP_ID, SoftAuthenticator, b64url
from .conftest import make_device, owner_request
from .test_webauthn import switch_keys_on

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def passkeys_on(settings):
    switch_keys_on(settings)
    settings.TOTP_PASSKEY_SIGN_IN = True
    cache.clear()
    yield
    cache.clear()


def anonymous_request(address: str = "203.0.113.7"):
    """A request of a browser that is signed in as nobody, in a session of its own."""
    request = RequestFactory().post("/2fa/passkey/", REMOTE_ADDR=address)
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = AnonymousUser()
    return request


def register_passkey(user, authenticator: SoftAuthenticator) -> WebAuthnCredential:
    request = owner_request(user)
    options = ceremonies.begin_registration(request)
    result = ceremonies.finish_registration(
        request, authenticator.create(options, resident=True), "Laptop"
    )
    assert result.accepted
    assert isinstance(result.device, WebAuthnCredential)
    return result.device


@pytest.fixture
def passkey(user) -> SoftAuthenticator:
    """A passkey registered to ``user`` (their first device), holding their user handle."""
    authenticator = SoftAuthenticator(transports=("internal",))
    register_passkey(user, authenticator)
    return authenticator


def sign_in(authenticator: SoftAuthenticator, request=None, **get):
    request = request or anonymous_request()
    options = passkeys.begin(request)
    return request, passkeys.finish(request, authenticator.get(options, **get))


# -- settings and checks ---------------------------------------------------------------------------


def test_passkey_sign_in_is_off_by_default_and_validated(settings):
    del settings.TOTP_PASSKEY_SIGN_IN
    assert conf.TOTP_PASSKEY_SIGN_IN is False
    settings.TOTP_PASSKEY_SIGN_IN = "yes"
    with pytest.raises(InvalidSetting) as raised:
        conf.TOTP_PASSKEY_SIGN_IN  # noqa: B018
    assert raised.value.check_id == "E038"


def test_a_check_explains_passkey_sign_in_without_webauthn(settings):
    assert checks.check_webauthn() == []
    settings.TOTP_WEBAUTHN = False
    (error,) = checks.check_webauthn()
    assert error.id == "django_totp.E039" and error.level == django_checks.ERROR
    assert "TOTP_WEBAUTHN" in error.hint
    assert not passkeys.enabled()
    with pytest.raises(ImproperlyConfigured):
        passkeys.begin(anonymous_request())


def test_switched_off_there_is_no_passkey_sign_in(settings, client, user, passkey):
    settings.TOTP_PASSKEY_SIGN_IN = False
    with pytest.raises(ImproperlyConfigured):
        passkeys.begin(anonymous_request())
    assert client.post("/2fa/passkey/begin/").status_code == 404
    assert client.post("/2fa/passkey/finish/").status_code == 404
    assert (
        Template("{% load totp_passkeys %}{% totp_passkey_sign_in %}").render(Context({})).strip()
        == ""
    )


# -- registration asks for passkeys ----------------------------------------------------------------


@pytest.mark.parametrize(("on", "resident_key"), [(True, "preferred"), (False, "discouraged")])
def test_registration_asks_for_a_passkey_when_they_sign_in(user, settings, on, resident_key):
    settings.TOTP_PASSKEY_SIGN_IN = on
    options = json.loads(ceremonies.begin_registration(owner_request(user)))
    assert options["authenticatorSelection"]["residentKey"] == resident_key
    assert options["authenticatorSelection"]["requireResidentKey"] is False


def test_the_settings_page_says_which_keys_sign_in_alone(client, user, passkey):
    usb_key = SoftAuthenticator()
    request = owner_request(user)
    options = ceremonies.begin_registration(request)
    created = usb_key.create(options, resident=False)
    assert ceremonies.finish_registration(request, created, "USB key").accepted
    options = begin_in(client)
    client.post("/2fa/passkey/finish/", {"credential": passkey.get(options)})
    make_device(user, name="Phone")
    page = client.get("/2fa/manage/").content.decode()
    assert page.index("Laptop") < page.index("A passkey: signs you in by itself.")
    assert page.index("USB key") < page.index("Not a passkey: only for the second step.")
    # An authenticator app is neither: it says nothing about passkeys.
    assert page.count("Not a passkey") == 1 and page.count("A passkey:") == 1


# -- the happy path --------------------------------------------------------------------------------


def test_a_passkey_signs_in_with_no_username_password_or_code(user, passkey, receive):
    logged_in = receive(user_logged_in)
    succeeded = receive(signals.verification_succeeded)
    request = anonymous_request()
    options = json.loads(passkeys.begin(request))
    assert options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    assert options["rpId"] == RP_ID
    anonymous_key = request.session.session_key

    signed_in = passkeys.finish(request, passkey.get(json.dumps(options)))

    assert signed_in.accepted and signed_in.user == user
    key = WebAuthnCredential.objects.get(user=user)
    assert request.user == user and request.session[SESSION_KEY] == str(user.pk)
    # A new session key, recorded as verified by the passkey, as a code would be (W6, R18).
    assert request.session.session_key != anonymous_key
    state = session.load_state(request)
    assert state.is_verified and state.method == VerificationMethod.WEBAUTHN
    record = request.session[session.VERIFIED_KEY]
    assert record["kind"] == "webauthn" and record["device"] == key.pk
    (row,) = VerifiedSession.objects.all()
    assert row.credential_id == key.pk and row.session_key == request.session.session_key
    assert row.method == VerificationMethod.WEBAUTHN
    # Django's own signal, with the request, and ours with the method.
    assert logged_in[0]["user"] == user and logged_in[0]["request"] is request
    assert succeeded[0]["device"] == key and succeeded[0]["method"] == "webauthn"
    key.refresh_from_db()
    assert key.sign_count == 2 and key.last_used_at is not None
    # The passkey was typed-in proof: it is this session's step-up (R28).
    assert stepup.satisfied(request)


def test_the_chosen_backend_is_one_that_finds_the_user_again(user, passkey, settings):
    settings.AUTHENTICATION_BACKENDS = [
        "tests.test_passkeys.RefusingBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    request, signed_in = sign_in(passkey)
    assert signed_in.accepted
    assert request.session["_auth_user_backend"] == "django.contrib.auth.backends.ModelBackend"
    assert get_user(request) == user


# -- refusals (W8-W10) -----------------------------------------------------------------------------


class RefusingBackend(ModelBackend):
    """A site's backend that lets nobody called alice in."""

    def user_can_authenticate(self, user) -> bool:
        return user.get_username() != "alice" and super().user_can_authenticate(user)


def assert_refused(request, signed_in, outcome=Outcome.INVALID):
    assert not signed_in.accepted and signed_in.result.outcome is outcome
    assert not request.user.is_authenticated
    assert SESSION_KEY not in request.session
    assert session.VERIFIED_KEY not in request.session
    assert not VerifiedSession.objects.filter(session_key=request.session.session_key).exists()


@pytest.mark.parametrize(
    "backend",
    [
        "django.contrib.auth.backends.ModelBackend",
        # A site's backend that lets inactive users in still does not let them in by passkey.
        "django.contrib.auth.backends.AllowAllUsersModelBackend",
    ],
)
def test_an_inactive_users_passkey_is_refused(user, passkey, receive, caplog, settings, backend):
    settings.AUTHENTICATION_BACKENDS = [backend]
    failed = receive(user_login_failed)
    logged_in = receive(user_logged_in)
    user.is_active = False
    user.save()
    with caplog.at_level(logging.INFO, logger="django_totp"):
        request, signed_in = sign_in(passkey)
    assert_refused(request, signed_in)
    assert not logged_in
    assert failed[0]["credentials"] == {"username": "alice"}
    assert failed[0]["request"] is request
    (record,) = [r for r in caplog.records if r.totp["event"] == "passkey_sign_in_refused"]
    assert record.totp["detail"] == "user_refused" and record.totp["user_id"] == user.pk


def test_a_user_the_sites_backends_refuse_is_refused(user, passkey, settings, receive):
    failed = receive(user_login_failed)
    settings.AUTHENTICATION_BACKENDS = ["tests.test_passkeys.RefusingBackend"]
    request, signed_in = sign_in(passkey)
    assert_refused(request, signed_in)
    assert len(failed) == 1


def test_a_removed_passkey_is_refused(user, passkey, receive):
    failed = receive(user_login_failed)
    services.remove_device(
        owner_request(user), WebAuthnCredential.objects.get(user=user).pk, kind="webauthn"
    )
    request, signed_in = sign_in(passkey)
    assert_refused(request, signed_in)
    assert failed[0]["credentials"] == {}  # unknown: nobody to name


def test_a_staff_reset_passkey_is_refused(user, passkey, staff_user):
    services.reset_user(user, actor=staff_user)
    request, signed_in = sign_in(passkey)
    assert_refused(request, signed_in)


def test_a_credential_answering_with_another_users_handle_is_refused(
    user, passkey, django_user_model, caplog
):
    bob = django_user_model.objects.create_user(username="bob", password="x" * 12)
    register_passkey(bob, SoftAuthenticator())
    bobs_handle = bytes(bob.totp_account.webauthn_user_handle)
    # Alice's credential, claiming to be Bob's (a tampered authenticator or a relay).
    passkey.user_handle = bobs_handle
    with caplog.at_level(logging.INFO, logger="django_totp"):
        request, signed_in = sign_in(passkey)
    assert_refused(request, signed_in)
    (record,) = [r for r in caplog.records if r.totp["event"] == "passkey_sign_in_refused"]
    assert record.totp["detail"] == "user_handle"


def test_a_response_without_a_user_handle_is_refused(user, passkey):
    passkey.user_handle = None
    request, signed_in = sign_in(passkey)
    assert_refused(request, signed_in)


def test_a_passkey_without_user_verification_is_refused(user, passkey):
    # The second factor may do without it; passkey sign-in never does (W5).
    assert conf.TOTP_WEBAUTHN_USER_VERIFICATION == "preferred"
    request, signed_in = sign_in(passkey, verified=False)
    assert_refused(request, signed_in)


def test_a_replayed_assertion_is_refused(user, passkey):
    request = anonymous_request()
    options = passkeys.begin(request)
    response = passkey.get(options)
    assert passkeys.finish(request, response).accepted
    # The same answer again: its challenge is gone, in the signed-in session and in a new one.
    assert_again = passkeys.finish(request, response)
    assert assert_again.result.outcome is Outcome.EXPIRED
    attacker = anonymous_request()
    passkeys.begin(attacker)
    assert_refused(attacker, passkeys.finish(attacker, response))
    # Even with the very challenge offered again (a concurrent submission): one success.
    attacker = anonymous_request()
    session.store_challenge(
        attacker, Purpose.SIGN_IN, passkeys.webauthn.b64url_decode(json.loads(options)["challenge"])
    )
    assert_refused(attacker, passkeys.finish(attacker, response), Outcome.REPLAYED)


def test_another_sessions_challenge_is_refused(user, passkey):
    victim, attacker = anonymous_request(), anonymous_request()
    response = passkey.get(passkeys.begin(victim))
    assert_refused(attacker, passkeys.finish(attacker, response), Outcome.EXPIRED)
    passkeys.begin(attacker)
    assert_refused(attacker, passkeys.finish(attacker, response))


def test_a_second_factor_challenge_does_not_sign_in(user, passkey):
    request = anonymous_request()
    session.store_challenge(request, Purpose.VERIFY, b"c" * 32)
    options = json.dumps({"rpId": RP_ID, "challenge": b64url(b"c" * 32)})
    assert_refused(request, passkeys.finish(request, passkey.get(options)), Outcome.EXPIRED)


@pytest.mark.parametrize(("seconds", "accepted"), [(299, True), (301, False)])
def test_a_challenge_expires_after_five_minutes(user, passkey, seconds, accepted):
    request = anonymous_request()
    with time_machine.travel(0, tick=False) as clock:
        clock.move_to("2026-11-26 12:00:00Z")
        options = passkeys.begin(request)
        clock.shift(seconds)
        signed_in = passkeys.finish(request, passkey.get(options))
    assert signed_in.accepted is accepted
    if not accepted:
        assert_refused(request, signed_in, Outcome.EXPIRED)


def test_a_counter_that_went_back_is_a_clone(user, passkey, receive, mailoutbox):
    cloned = receive(signals.credential_cloned)
    copy = passkey.clone()
    assert sign_in(passkey)[1].accepted
    assert sign_in(passkey)[1].accepted
    request, signed_in = sign_in(copy)
    assert_refused(request, signed_in, Outcome.CLONED)
    assert cloned[0]["stored_sign_count"] == 3 and cloned[0]["sign_count"] == 2
    assert WebAuthnCredential.objects.get(user=user).sign_count == 3


@pytest.mark.parametrize(
    "response", [None, "", "{", "x" * 100_000, '{"type": "public-key"}', "[]", 42]
)
def test_malformed_answers_are_clean_refusals(user, passkey, response):
    request = anonymous_request()
    passkeys.begin(request)
    assert_refused(request, passkeys.finish(request, response))


# -- a passkey-verified session is like any other (W6) --------------------------------------------


def test_a_staff_reset_ends_passkey_verified_sessions(
    user, passkey, staff_user, django_capture_on_commit_callbacks
):
    request, signed_in = sign_in(passkey)
    assert signed_in.accepted
    request.session.save()
    key = request.session.session_key
    assert session_store()().exists(key)
    with django_capture_on_commit_callbacks(execute=True):
        services.reset_user(user, actor=staff_user)
    assert not session_store()().exists(key)


# -- rate limits (W11) -----------------------------------------------------------------------------


def test_a_session_may_start_only_so_many_sign_ins(user):
    request = anonymous_request()
    with time_machine.travel("2026-11-26 12:00:00Z", tick=False) as clock:
        for _ in range(passkeys.SESSION_LIMIT):
            passkeys.begin(request)
        with pytest.raises(passkeys.RateLimited) as raised:
            passkeys.begin(request)
        assert raised.value.retry_after == 60
        # Another session at the same address is not held back by this one.
        passkeys.begin(anonymous_request())
        clock.shift(60)
        passkeys.begin(request)


def test_an_address_may_start_only_so_many_sign_ins(user):
    with time_machine.travel("2026-11-26 12:00:30Z", tick=False):
        for _ in range(passkeys.ADDRESS_LIMIT):
            passkeys.begin(anonymous_request("198.51.100.1"))
        with pytest.raises(passkeys.RateLimited) as raised:
            passkeys.begin(anonymous_request("198.51.100.1"))
        assert raised.value.retry_after == 30
        passkeys.begin(anonymous_request("198.51.100.2"))
        # X-Forwarded-For is the client's to write: it changes nothing.
        forwarded = anonymous_request("198.51.100.1")
        forwarded.META["HTTP_X_FORWARDED_FOR"] = "192.0.2.99"
        with pytest.raises(passkeys.RateLimited):
            passkeys.begin(forwarded)


def test_the_begin_endpoint_answers_429_past_the_limit(client):
    for _ in range(passkeys.SESSION_LIMIT):
        assert client.post("/2fa/passkey/begin/").status_code == 200
    response = client.post("/2fa/passkey/begin/")
    assert response.status_code == 429
    assert int(response["Retry-After"]) > 0
    assert response.json()["detail"] == "Too many sign-in attempts. Wait a minute, then try again."


# -- the views -------------------------------------------------------------------------------------


def begin_in(client) -> str:
    response = client.post("/2fa/passkey/begin/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return json.dumps(response.json())


def test_a_person_signs_in_with_a_passkey_and_reaches_a_private_page(client, user, passkey):
    assert client.get("/private/").status_code == 302
    options = begin_in(client)
    response = client.post(
        "/2fa/passkey/finish/", {"credential": passkey.get(options), "next": "/private/"}
    )
    assert response.status_code == 302 and response["Location"] == "/private/"
    assert client.get("/private/").content == b"private page"  # no further prompt
    assert client.get("/2fa/manage/").status_code == 200  # step-up passes too


def test_begin_is_a_post_with_csrf(user):
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)
    assert strict.get("/2fa/passkey/begin/").status_code == 405
    assert strict.post("/2fa/passkey/begin/").status_code == 403


@pytest.mark.parametrize(
    "evil", ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"]
)
def test_next_is_safe(client, user, passkey, evil):
    response = client.post(
        "/2fa/passkey/finish/", {"credential": passkey.get(begin_in(client)), "next": evil}
    )
    assert response.status_code == 302 and response["Location"] == "/"


def refusal_page(client, response) -> tuple[int, str, list[str]]:
    from django.contrib.messages import get_messages

    page = client.get(response["Location"])
    return (
        response.status_code,
        response["Location"],
        [str(m) for m in get_messages(page.wsgi_request)] or [page.content.decode()],
    )


def test_every_refusal_gets_the_same_answer(client, user, passkey, django_user_model):
    """No user enumeration (W10): unknown, foreign-handle and inactive look alike."""
    answers = []
    unknown = SoftAuthenticator(user_handle=b"x" * 32)
    answers.append(
        client.post(
            "/2fa/passkey/finish/",
            {"credential": unknown.get(begin_in(client)), "next": "/private/"},
        )
    )
    bob = django_user_model.objects.create_user(username="bob", password="x" * 12)
    register_passkey(bob, SoftAuthenticator())
    handle = passkey.user_handle
    passkey.user_handle = bytes(bob.totp_account.webauthn_user_handle)
    answers.append(
        client.post(
            "/2fa/passkey/finish/",
            {"credential": passkey.get(begin_in(client)), "next": "/private/"},
        )
    )
    passkey.user_handle = handle
    user.is_active = False
    user.save()
    answers.append(
        client.post(
            "/2fa/passkey/finish/",
            {"credential": passkey.get(begin_in(client)), "next": "/private/"},
        )
    )
    seen = {(r.status_code, r["Location"]) for r in answers}
    assert seen == {(302, "/login/?next=%2Fprivate%2F")}
    messages = client.get("/messages/").content.decode().splitlines()
    assert (
        messages
        == ["This passkey could not be used to sign in. Try again, or sign in with your password."]
        * 3
    )


def test_the_template_tag_renders_a_hidden_button_and_no_inline_script(rf):
    request = rf.get("/login/")
    html = Template("{% load totp_passkeys %}{% totp_passkey_sign_in %}").render(
        Context({"request": request, "next": "/private/", "csrf_token": "t"})
    )
    assert 'action="/2fa/passkey/finish/"' in html
    assert "data-totp-passkey-start hidden" in html
    assert 'name="next" value="/private/"' in html
    assert '<script id="totp-passkey-config" type="application/json">' in html
    assert '"begin": "/2fa/passkey/begin/"' in html
    assert html.count("<script") == 3 and "django_totp/passkey.js" in html
    assert html.index("django_totp/webauthn-json.js") < html.index("django_totp/passkey.js")


def test_a_passkey_sign_in_is_not_reported_as_a_remembered_browser(
    user, passkey, receive, settings
):
    """The password-login receiver looks for a remember cookie; a passkey needs none."""
    settings.TOTP_REMEMBER_DAYS = 30
    remembered = receive(signals.remembered_browser_used)
    request = anonymous_request()
    key = WebAuthnCredential.objects.get(user=user)
    request.COOKIES[conf.TOTP_REMEMBER_COOKIE_NAME] = remember.cookie_value(user, key)
    options = passkeys.begin(request)
    assert passkeys.finish(request, passkey.get(options)).accepted
    assert remembered == []
    assert session.load_state(request).method == VerificationMethod.WEBAUTHN
