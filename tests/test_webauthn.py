"""Security keys and passkeys (W1-W7): the ceremonies against real py_webauthn verification.

Every response comes from ``tests.authenticator.SoftAuthenticator`` (a real P-256 key, real
CBOR), so each attack below is checked by the library and our services, with no mocks.
"""

from __future__ import annotations

import json
import logging
import time

import cbor2
import pytest
import time_machine
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from django_totp import ceremonies, session, signals, stepup, webauthn
from django_totp.ceremonies import Purpose
from django_totp.models import (
    DeviceKind,
    TOTPAccount,
    VerificationMethod,
    WebAuthnCredential,
)
from django_totp.services import Outcome

from .authenticator import ORIGIN, RP_ID, SoftAuthenticator, b64url, unb64url
from .conftest import make_device, owner_request

pytestmark = pytest.mark.django_db


def switch_keys_on(settings) -> None:
    """Security keys on, for the software authenticator's relying party."""
    settings.TOTP_WEBAUTHN = True
    settings.TOTP_WEBAUTHN_RP_ID = RP_ID
    settings.TOTP_WEBAUTHN_ORIGINS = [ORIGIN]
    settings.TOTP_WEBAUTHN_USER_VERIFICATION = "preferred"


@pytest.fixture(autouse=True)
def webauthn_on(settings):
    switch_keys_on(settings)


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    return lambda: django_capture_on_commit_callbacks(execute=True)


def fresh_request(user, session_key: str | None = None):
    """A request of ``user`` in a session of its own (or the stored session ``session_key``)."""
    request = RequestFactory().post("/2fa/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    if session_key is not None:
        request.session = type(request.session)(session_key)
    request.user = user
    return request


def register(request, authenticator: SoftAuthenticator, name: str = "Blue key", **create):
    options = ceremonies.begin_registration(request)
    return ceremonies.finish_registration(request, authenticator.create(options, **create), name)


def sign_in_request(user):
    """A request of ``user`` past the password step only."""
    return owner_request(user, None)


def assert_with(request, authenticator: SoftAuthenticator, purpose=Purpose.VERIFY, **get):
    options = ceremonies.begin_authentication(request, purpose)
    assert options is not None
    return ceremonies.verify_assertion(request, authenticator.get(options, **get), purpose)


@pytest.fixture
def key(user) -> SoftAuthenticator:
    """A key registered to ``user`` (their first device)."""
    authenticator = SoftAuthenticator()
    assert register(owner_request(user), authenticator).accepted
    return authenticator


# -- the happy path --------------------------------------------------------------------------------


def test_a_key_is_registered_and_then_completes_a_sign_in(user, receive):
    confirmed = receive(signals.device_confirmed)
    authenticator = SoftAuthenticator()
    request = owner_request(user)
    options = json.loads(ceremonies.begin_registration(request))
    assert options["attestation"] == "none"
    assert options["rp"] == {"id": RP_ID, "name": "Test Site"}
    assert options["extensions"] == {"credProps": True}
    result = ceremonies.finish_registration(
        request, authenticator.create(json.dumps(options)), "Blue key"
    )

    assert result.accepted and result.method == VerificationMethod.WEBAUTHN
    assert len(result.recovery_codes) == 10  # the user's first device of any kind
    credential = WebAuthnCredential.objects.get(user=user)
    assert result.device == credential
    assert bytes(credential.credential_id) == authenticator.credential_id
    assert credential.name == "Blue key"
    assert credential.transport_list == ["nfc", "usb"]
    assert credential.sign_count == 1 and credential.discoverable is False
    assert credential.aaguid == "00000000-0000-0000-0000-000000000000"
    assert confirmed[0]["device"] == credential and confirmed[0]["method"] == "webauthn"
    # The user handle is random, never the primary key.
    handle = bytes(TOTPAccount.objects.get(user=user).webauthn_user_handle)
    assert authenticator.user_handle == handle and len(handle) == 32
    assert handle != str(user.pk).encode()

    request = sign_in_request(user)
    options = json.loads(ceremonies.begin_authentication(request))
    assert options["allowCredentials"] == [
        {
            "id": b64url(authenticator.credential_id),
            "type": "public-key",
            "transports": ["nfc", "usb"],
        }
    ]
    result = ceremonies.verify_assertion(request, authenticator.get(json.dumps(options)))
    assert result.outcome is Outcome.ACCEPTED and result.device == credential
    assert session.mark_verified(request, result.device, result.method)
    state = session.load_state(request)
    assert state.is_verified and state.method == "webauthn"
    assert request.session[session.VERIFIED_KEY]["kind"] == DeviceKind.WEBAUTHN
    credential.refresh_from_db()
    assert credential.sign_count == 2 and credential.last_used_at is not None


def test_a_key_that_does_not_count_signs_in_again_and_again(user):
    synced = SoftAuthenticator(counting=False, backup_eligible=True)
    assert register(owner_request(user), synced).accepted
    for _ in range(3):
        assert assert_with(sign_in_request(user), synced).accepted
    credential = WebAuthnCredential.objects.get(user=user)
    assert credential.sign_count == 0 and credential.backup_eligible and credential.backup_state


# -- the relying party -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "origin", ["https://evil.example", "https://example.com.evil.example", "http://example.com"]
)
def test_a_response_made_on_another_origin_is_refused(user, key, origin):
    phished = SoftAuthenticator()
    assert register(owner_request(user), phished, origin=origin).outcome is Outcome.INVALID
    assert assert_with(sign_in_request(user), key, origin=origin).outcome is Outcome.INVALID


def test_a_response_for_another_rp_id_is_refused(user, key):
    other = SoftAuthenticator()
    assert register(owner_request(user), other, rp_id="evil.example").outcome is Outcome.INVALID
    assert assert_with(sign_in_request(user), key, rp_id="evil.example").outcome is Outcome.INVALID
    assert WebAuthnCredential.objects.filter(user=user).count() == 1


def test_the_relying_party_comes_from_settings_never_the_request(user, key):
    request = sign_in_request(user)
    request.META["HTTP_HOST"] = "evil.example"
    request.META["HTTP_ORIGIN"] = "https://evil.example"
    request.META["HTTP_X_FORWARDED_HOST"] = "evil.example"
    options = json.loads(ceremonies.begin_authentication(request))
    assert options["rpId"] == RP_ID
    response = key.get(json.dumps(options), origin="https://evil.example", rp_id="evil.example")
    assert ceremonies.verify_assertion(request, response).outcome is Outcome.INVALID


# -- challenges (W1) -------------------------------------------------------------------------------


def test_a_challenge_is_used_once(user, key):
    request = sign_in_request(user)
    options = ceremonies.begin_authentication(request)
    response = key.get(options)
    assert ceremonies.verify_assertion(request, response).accepted
    assert ceremonies.verify_assertion(request, response).outcome is Outcome.EXPIRED
    # With a fresh challenge in the session, the old response answers the wrong one.
    ceremonies.begin_authentication(request)
    assert ceremonies.verify_assertion(request, response).outcome is Outcome.INVALID


def test_a_failed_attempt_uses_the_challenge_up(user, key):
    request = sign_in_request(user)
    options = ceremonies.begin_authentication(request)
    bad = key.get(options, origin="https://evil.example")
    assert ceremonies.verify_assertion(request, bad).outcome is Outcome.INVALID
    assert ceremonies.verify_assertion(request, key.get(options)).outcome is Outcome.EXPIRED


def test_a_registration_challenge_is_used_once(user):
    request = owner_request(user)
    options = ceremonies.begin_registration(request)
    first, second = SoftAuthenticator(), SoftAuthenticator()
    result = ceremonies.finish_registration(request, first.create(options), "a")
    # As the setup page does with a first device: the key verifies the session.
    assert session.mark_verified(request, result.device, result.method)
    # CVE-2022-42731 (django-mfa2): a reusable registration challenge.
    reused = ceremonies.finish_registration(request, second.create(options), "b")
    assert reused.outcome is Outcome.EXPIRED
    assert WebAuthnCredential.objects.filter(user=user).count() == 1


@pytest.mark.parametrize(("seconds", "accepted"), [(299, True), (301, False)])
def test_a_challenge_expires_after_five_minutes(user, key, seconds, accepted):
    request = sign_in_request(user)
    with time_machine.travel(0, tick=False) as clock:
        clock.move_to("2026-11-26 12:00:00Z")
        options = ceremonies.begin_authentication(request)
        clock.shift(seconds)
        result = ceremonies.verify_assertion(request, key.get(options))
    assert result.outcome is (Outcome.ACCEPTED if accepted else Outcome.EXPIRED)


def test_another_sessions_challenge_is_refused(user, key):
    victim, attacker = sign_in_request(user), sign_in_request(user)
    victim_options = ceremonies.begin_authentication(victim)
    response = key.get(victim_options)  # e.g. relayed by a phishing proxy
    assert ceremonies.verify_assertion(attacker, response).outcome is Outcome.EXPIRED
    ceremonies.begin_authentication(attacker)
    assert ceremonies.verify_assertion(attacker, response).outcome is Outcome.INVALID


def test_a_challenge_serves_only_its_purpose(user, key):
    request = owner_request(user, None)
    options = ceremonies.begin_authentication(request, Purpose.VERIFY)
    response = key.get(options)
    result = ceremonies.verify_assertion(request, response, Purpose.STEP_UP)
    assert result.outcome is Outcome.EXPIRED
    # A registration signed over a sign-in challenge of the same session.
    registration = owner_request(user)
    verify_options = json.loads(ceremonies.begin_authentication(registration) or "")
    options = {"rp": {"id": RP_ID}, "user": {"id": b64url(b"h")}, **verify_options}
    created = SoftAuthenticator().create(json.dumps(options))
    assert ceremonies.finish_registration(registration, created, "x").outcome is Outcome.EXPIRED


# -- clones and replays (W3) -----------------------------------------------------------------------


def test_a_cloned_key_is_refused_logged_signalled_and_emailed(
    user, key, receive, committed, mailoutbox, caplog
):
    clone = key.clone()
    assert assert_with(sign_in_request(user), key).accepted
    assert assert_with(sign_in_request(user), key).accepted  # the real key is at 3
    cloned = receive(signals.credential_cloned)
    with caplog.at_level(logging.INFO, logger="django_totp"), committed():
        result = assert_with(sign_in_request(user), clone)  # the copy says 2
    assert result.outcome is Outcome.CLONED
    assert cloned[0]["sign_count"] == 2 and cloned[0]["stored_sign_count"] == 3
    assert WebAuthnCredential.objects.get(user=user).sign_count == 3
    (record,) = [r for r in caplog.records if r.totp["event"] == "webauthn_cloned"]
    assert record.levelno == logging.WARNING and record.totp["device_kind"] == "webauthn"
    (message,) = mailoutbox
    assert message.to == ["alice@example.com"]
    assert "copy of your security key" in message.subject
    assert '"Blue key"' in message.body


def test_a_replayed_assertion_is_no_clone_alarm(user, key, receive):
    cloned = receive(signals.credential_cloned)
    request = sign_in_request(user)
    options = ceremonies.begin_authentication(request)
    response = key.get(options)
    assert ceremonies.verify_assertion(request, response).accepted
    # The same session offers the same challenge again, as a concurrent request would see it.
    session.store_challenge(request, Purpose.VERIFY, unb64url(json.loads(options)["challenge"]))
    assert ceremonies.verify_assertion(request, response).outcome is Outcome.REPLAYED
    assert not cloned


# -- ownership (W4) --------------------------------------------------------------------------------


def test_an_assertion_from_another_users_key_is_refused(user, key, django_user_model, caplog):
    bob = django_user_model.objects.create_user(username="bob", password="x" * 12)
    bobs_key = SoftAuthenticator()
    assert register(owner_request(bob), bobs_key).accepted
    request = sign_in_request(user)
    options = json.loads(ceremonies.begin_authentication(request))
    with caplog.at_level(logging.INFO, logger="django_totp"):
        result = ceremonies.verify_assertion(request, bobs_key.get(json.dumps(options)))
    assert result.outcome is Outcome.INVALID and result.device is None
    (record,) = [r for r in caplog.records if r.totp["event"] == "verified_refused"]
    assert record.totp["detail"] == "foreign_key" and record.totp["user_id"] == user.pk
    assert WebAuthnCredential.objects.get(user=bob).sign_count == 1


def test_a_key_cannot_be_registered_twice(user, key, django_user_model):
    request = owner_request(user)
    options = json.loads(ceremonies.begin_registration(request))
    assert options["excludeCredentials"][0]["id"] == b64url(key.credential_id)
    again = ceremonies.finish_registration(request, key.create(json.dumps(options)), "again")
    assert again.outcome is Outcome.DUPLICATE
    bob = django_user_model.objects.create_user(username="bob", password="x" * 12)
    assert register(owner_request(bob), key).outcome is Outcome.DUPLICATE
    assert WebAuthnCredential.objects.count() == 1


# -- user verification (W5) ------------------------------------------------------------------------


def test_user_verification_required_and_absent_is_refused(user, settings):
    settings.TOTP_WEBAUTHN_USER_VERIFICATION = "required"
    no_pin = SoftAuthenticator(user_verifying=False)
    assert register(owner_request(user), no_pin).outcome is Outcome.INVALID
    with_pin = SoftAuthenticator()
    assert register(owner_request(user), with_pin).accepted
    options = json.loads(ceremonies.begin_authentication(sign_in_request(user)))
    assert options["userVerification"] == "required"
    assert assert_with(sign_in_request(user), with_pin, verified=False).outcome is Outcome.INVALID
    assert assert_with(sign_in_request(user), with_pin).accepted


def test_without_required_user_verification_presence_is_enough(user):
    no_pin = SoftAuthenticator(user_verifying=False)
    assert register(owner_request(user), no_pin).accepted
    assert assert_with(sign_in_request(user), no_pin).accepted
    assert assert_with(sign_in_request(user), no_pin, present=False).outcome is Outcome.INVALID


# -- bad input (W7) --------------------------------------------------------------------------------


def bad_responses(authenticator: SoftAuthenticator, options: str) -> list[object]:
    good = json.loads(authenticator.get(options))
    wrong = []
    for path, value in [
        (("type",), "password"),
        (("response",), ["not", "a", "dict"]),
        (("response", "signature"), 12),
        (("response", "clientDataJSON"), None),
        (("response", "userHandle"), {"x": 1}),
        (("rawId",), "not base64url!"),
        (("rawId",), good["rawId"] + "="),
        (("id",), b64url(b"another id")),
        (("response", "authenticatorData"), b64url(b"short")),
        (("response", "clientDataJSON"), b64url(b"{not json")),
        (("response", "signature"), b64url(b"\x00" * 70)),
    ]:
        changed = json.loads(json.dumps(good))
        target = changed
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
        wrong.append(json.dumps(changed))
    huge_id = b64url(b"\x01" * 2000)
    return [
        *wrong,
        json.dumps({**good, "id": huge_id, "rawId": huge_id}),
        json.dumps({**good, "id": b64url(b"unknown"), "rawId": b64url(b"unknown")}),
        "",
        "{",
        "[]",
        "null",
        '"public-key"',
        "{}",
        "x" * 100_000,
        "[" * 50_000 + "]" * 50_000,
        '{"type": "public-key", "response": {}}',
        None,
        42,
        ["a", "list"],
        {"a": "dict"},
        "\x00\ud800",
    ]


def test_malformed_responses_are_clean_refusals(user, key, caplog):
    device = make_device(user)
    options = ceremonies.begin_authentication(sign_in_request(user))
    assert options is not None
    for response in bad_responses(key, options):
        request = sign_in_request(user)
        ceremonies.begin_authentication(request)
        with caplog.at_level(logging.INFO, logger="django_totp"):
            result = ceremonies.verify_assertion(request, response)
        assert result.outcome is Outcome.INVALID, response
        assert caplog.records[-1].totp["event"] == "verified_refused"
    # WebAuthn failures never touch the user's app's failure counter (W6).
    device.refresh_from_db()
    assert device.failure_count == 0 and device.last_failure_at is None
    assert WebAuthnCredential.objects.get(user=user).sign_count == 1


def test_malformed_registrations_are_clean_refusals(user):
    authenticator = SoftAuthenticator()
    for response in [None, "", "{", "x" * 100_000, '{"type": "public-key"}', "[]"]:
        request = owner_request(user)
        ceremonies.begin_registration(request)
        assert ceremonies.finish_registration(request, response, "k").outcome is Outcome.INVALID
    request = owner_request(user)
    options = json.loads(ceremonies.begin_registration(request))
    good = json.loads(authenticator.create(json.dumps(options)))
    good["response"]["attestationObject"] = b64url(b"\xa1\x63fmt")  # truncated CBOR
    result = ceremonies.finish_registration(request, json.dumps(good), "k")
    assert result.outcome is Outcome.INVALID
    assert not WebAuthnCredential.objects.exists()


# -- a device like any other (W6) ------------------------------------------------------------------


def test_adding_a_key_needs_step_up(user, device):
    with pytest.raises(stepup.StepUpRequired):
        ceremonies.begin_registration(owner_request(user, VerificationMethod.REMEMBERED_BROWSER))
    request = owner_request(user)
    options = ceremonies.begin_registration(request)
    # Step-up lapses between the two steps: the finish checks it again.
    request.totp = session.TOTPState(is_verified=True, has_device=True)
    with time_machine.travel(0, tick=False) as clock:
        clock.move_to("2099-01-01")
        with pytest.raises(stepup.StepUpRequired):
            ceremonies.finish_registration(request, SoftAuthenticator().create(options), "k")


def test_a_key_after_an_app_brings_no_new_recovery_codes(user, device):
    result = register(owner_request(user), SoftAuthenticator())
    assert result.accepted and result.recovery_codes == ()


def test_a_session_verified_with_a_key_passes_step_up(user, key):
    request = sign_in_request(user)
    assert not stepup.satisfied(request)
    result = assert_with(request, key, Purpose.STEP_UP)
    assert session.mark_verified(request, result.device, result.method)
    assert stepup.satisfied(request)


def test_webauthn_switched_off_refuses_every_ceremony(user, key, settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.TOTP_WEBAUTHN = False
    with pytest.raises(ImproperlyConfigured):
        ceremonies.begin_authentication(sign_in_request(user))


@pytest.mark.parametrize(
    "entry",
    [None, "x", [], {}, {"value": 5, "at": 0}, {"value": "abc", "at": "now"}, {"value": "abcde"}],
)
def test_a_stored_challenge_that_is_not_one_is_no_challenge(user, entry):
    request = sign_in_request(user)
    request.session[session.CHALLENGE_KEY] = {"verify": entry}
    if isinstance(entry, dict) and "value" in entry and "at" not in entry:
        entry["at"] = time.time()  # well formed but for its base64 (bad padding)
    assert session.pop_challenge(request, "verify") is None
    assert session.pop_challenge(request, "verify") is None  # and it is gone


# -- reading what another package stored (totp_import) -------------------------------------------


def registration(authenticator: SoftAuthenticator) -> bytes:
    """The attestation object of a registration, as another package keeps it."""
    options = json.dumps(
        {"rp": {"id": RP_ID}, "user": {"id": b64url(b"handle")}, "challenge": b64url(b"c" * 16)}
    )
    created = json.loads(authenticator.create(options))
    return unb64url(created["response"]["attestationObject"])


def test_an_attestation_gives_its_credential_and_the_rp_id_it_was_made_for():
    authenticator = SoftAuthenticator(backup_eligible=True, aaguid=bytes(range(16)))
    attested = webauthn.read_attestation(registration(authenticator))
    assert attested.credential_id == authenticator.credential_id
    assert attested.public_key == authenticator.cose_public_key()
    assert attested.rp_id_hash == webauthn.rp_id_hash(RP_ID) != webauthn.rp_id_hash("other.example")
    assert attested.sign_count == authenticator.counter
    assert attested.aaguid == "00010203-0405-0607-0809-0a0b0c0d0e0f"
    assert attested.backup_eligible and attested.backup_state


@pytest.mark.parametrize(
    "spoil",
    [
        lambda raw: b"not cbor",
        lambda raw: raw[:40],  # authenticator data cut short
        lambda raw: cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": bytes(37)}),
    ],
)
def test_an_attestation_without_a_usable_credential_is_a_webauthn_error(spoil):
    with pytest.raises(webauthn.WebAuthnError):
        webauthn.read_attestation(spoil(registration(SoftAuthenticator())))


def test_only_a_usable_cose_key_passes():
    webauthn.check_public_key(SoftAuthenticator().cose_public_key())
    for spoiled in (b"", b"not a key", cbor2.dumps({1: 2, 3: -7})):
        with pytest.raises(webauthn.WebAuthnError):
            webauthn.check_public_key(spoiled)
