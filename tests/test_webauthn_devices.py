"""W6: a security key is a device like an authenticator app, in every rule that knows devices.

Revocation (R17, R27), the last-device rule (R25), the enrolment policy, recovery codes (R22),
staff reset (R24, R32) and remembered browsers (R23): each is the shared mechanism, extended
by the device's kind, not a copy for keys.
"""

from __future__ import annotations

import io
import json

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core import signing
from django.core.management import call_command

from django_totp import ceremonies, remember, services, session
from django_totp.models import (
    DeviceKind,
    TOTPAccount,
    TOTPDevice,
    VerificationMethod,
    VerifiedSession,
    WebAuthnCredential,
)
from django_totp.services import Outcome

from .authenticator import SoftAuthenticator
from .conftest import make_device, owner_request
from .test_admin import admin_client, panel_url, user_page  # noqa: F401
from .test_webauthn import assert_with, register, sign_in_request, webauthn_on  # noqa: F401

pytestmark = pytest.mark.django_db


def key_session(user, authenticator: SoftAuthenticator):
    """A sign-in of ``user`` completed with ``authenticator``, as the verify page records it."""
    request = sign_in_request(user)
    result = assert_with(request, authenticator)
    assert result.accepted
    assert session.mark_verified(request, result.device, result.method)
    request.session.save()
    return request


def alive(request) -> bool:
    return SessionStore().exists(request.session.session_key)


def still_verified(request) -> bool:
    """What the middleware's re-check says of the session now (R27)."""
    return session.confirmed_state(request).is_verified


@pytest.fixture
def key(user) -> SoftAuthenticator:
    authenticator = SoftAuthenticator()
    assert register(owner_request(user), authenticator, name="Blue key").accepted
    return authenticator


def credential(user) -> WebAuthnCredential:
    return WebAuthnCredential.objects.get(user=user)


# -- revocation ----------------------------------------------------------------------------------


def test_deleting_a_key_ends_the_sessions_it_verified_and_no_others(user, key, code_for):
    by_key = key_session(user, key)
    app = make_device(user)
    by_app = owner_request(user)  # verified with the app
    by_app.session.save()
    row = VerifiedSession.objects.get(session_key=by_key.session.session_key)
    assert row.credential == credential(user) and row.device is None
    assert row.method == VerificationMethod.WEBAUTHN

    credential(user).delete()  # any path: the pre_delete receiver ends its sessions

    assert not alive(by_key) and not still_verified(by_key)
    assert alive(by_app) and still_verified(by_app)
    assert not VerifiedSession.objects.filter(credential__isnull=False).exists()
    app.delete()
    assert not alive(by_app)


def test_a_key_verified_record_is_trusted_only_while_the_key_exists(user, key):
    request = key_session(user, key)
    assert session.load_state(request).is_verified  # no query within the interval
    WebAuthnCredential.objects.filter(user=user).update(user=user)  # still there
    assert still_verified(request)
    # Deleted without the ORM's signal (raw queries), so the session was not ended: the
    # re-check still catches it (R27).
    VerifiedSession.objects.all()._raw_delete("default")
    WebAuthnCredential.objects.filter(user=user)._raw_delete("default")
    assert alive(request)
    assert not still_verified(request)


def test_the_recheck_stays_one_query_with_both_kinds(user, key, django_assert_num_queries):
    make_device(user)
    request = key_session(user, key)
    with django_assert_num_queries(1):
        session.user_devices(user)
    assert set(session.user_devices(user)) == {
        (DeviceKind.TOTP, TOTPDevice.objects.get(user=user).pk),
        (DeviceKind.WEBAUTHN, credential(user).pk),
    }
    assert still_verified(request)


def test_a_remembered_browser_session_ends_when_browsers_are_forgotten(user, key):
    device = credential(user)
    token = TOTPAccount.objects.get(user=user).remember_token
    request = sign_in_request(user)
    assert session.mark_verified(
        request, device, VerificationMethod.REMEMBERED_BROWSER, remember_token=token
    )
    request.session.save()
    services.forget_browsers(key_session(user, key))
    assert not alive(request)


# -- staff reset and self-service removal -------------------------------------------------------


def test_a_staff_reset_removes_keys_and_ends_their_sessions(user, key, staff_user, receive):
    reset = receive(services.signals.devices_reset)
    app = make_device(user)
    by_key = key_session(user, key)
    assert services.reset_user(user, actor=staff_user) == 2
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not TOTPDevice.objects.filter(pk=app.pk).exists()
    assert not alive(by_key) and not still_verified(by_key)
    assert reset[0]["credential_ids"] and reset[0]["device_ids"] == [app.pk]
    # The user handle goes with the account row: new keys get a new one.
    assert TOTPAccount.objects.get(user=user).webauthn_user_handle is None


def test_the_last_device_of_either_kind_is_the_last_device(user, key, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    app = make_device(user)
    request = owner_request(user)
    # Two devices of two kinds: either may go, but not both.
    assert services.remove_device(request, app.pk)
    assert not services.remove_device(request, credential(user).pk, kind=DeviceKind.WEBAUTHN)
    assert WebAuthnCredential.objects.filter(user=user).exists()


def test_removing_the_last_key_turns_2fa_off_where_the_policy_allows(user, key):
    request = owner_request(user)
    assert services.remove_device(request, credential(user).pk, kind=DeviceKind.WEBAUTHN)
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not user.totp_recovery_codes.exists()
    assert not session.load_state(request).has_device


def test_removing_a_key_keeps_this_session_verified_by_the_app(user, key):
    app = make_device(user)
    request = key_session(user, key)
    assert services.remove_device(request, credential(user).pk, kind=DeviceKind.WEBAUTHN)
    assert alive(request)
    record = request.session[session.VERIFIED_KEY]
    assert record["kind"] == DeviceKind.TOTP and record["device"] == app.pk
    assert still_verified(request)
    assert session.state_of(request).method == VerificationMethod.WEBAUTHN


def test_another_users_key_cannot_be_removed_or_renamed(user, key, django_user_model):
    bob = django_user_model.objects.create_user(username="bob", password="x" * 12)
    assert register(owner_request(bob), SoftAuthenticator()).accepted
    bobs = WebAuthnCredential.objects.get(user=bob)
    request = owner_request(user)
    with pytest.raises(WebAuthnCredential.DoesNotExist):
        services.remove_device(request, bobs.pk, kind=DeviceKind.WEBAUTHN)
    with pytest.raises(WebAuthnCredential.DoesNotExist):
        services.rename_device(request, bobs.pk, "mine", kind=DeviceKind.WEBAUTHN)
    services.rename_device(request, credential(user).pk, "Red key", kind=DeviceKind.WEBAUTHN)
    assert credential(user).name == "Red key"
    assert WebAuthnCredential.objects.get(user=bob).name == "Blue key"


# -- policy, recovery codes, remembered browsers ------------------------------------------------


def test_a_key_satisfies_the_enrolment_policy(user, key, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    state = session.load_state(sign_in_request(user))
    assert state.has_device and not state.must_enrol and not state.is_verified


def test_a_key_only_user_signs_in_with_a_recovery_code(user, settings):
    result = register(owner_request(user), SoftAuthenticator())
    codes = result.recovery_codes
    request = sign_in_request(user)
    recovered = services.verify_recovery_code(user, codes[0], request=request)
    assert recovered.accepted and recovered.device == credential(user)
    assert session.mark_verified(request, recovered.device, recovered.method)
    assert still_verified(request)


def test_a_remembered_browser_is_bound_to_the_key(user, key, settings):
    settings.TOTP_REMEMBER_DAYS = 30
    value = remember.cookie_value(user, credential(user))
    assert remember.remembered_device(user, value) == credential(user)
    request = sign_in_request(user)
    assert services.sign_in_remembered(request, user, value) == credential(user)
    assert session.state_of(request).method == VerificationMethod.REMEMBERED_BROWSER
    # An app with the key's id is another device: the kind is part of the keyed digest, so the
    # cookie's payload re-signed without it (as if it named the app) vouches for nothing.
    make_device(user, pk=credential(user).pk)
    payload = signing.loads(value, salt=remember.COOKIE_SALT)
    del payload["k"]
    as_app = signing.dumps(payload, salt=remember.COOKIE_SALT)
    assert remember.remembered_device(user, as_app) is None
    credential(user).delete()
    assert remember.remembered_device(user, value) is None


def test_the_first_key_ends_the_enrolment_grace(user, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    settings.TOTP_ENROLMENT_GRACE_DAYS = 14
    request = owner_request(user)
    assert session.load_state(request).enrol_by is not None
    assert register(request, SoftAuthenticator()).accepted
    user.totp_enrolment_grace.refresh_from_db()
    assert user.totp_enrolment_grace.ended_at is not None


def test_a_user_without_keys_is_offered_none(user, device, key):
    WebAuthnCredential.objects.filter(user=user).delete()
    request = sign_in_request(user)
    assert ceremonies.begin_authentication(request) is None
    # A challenge left from before the key was removed: the user has no key to answer it.
    session.store_challenge(request, ceremonies.Purpose.VERIFY, b"x" * 32)
    result = ceremonies.verify_assertion(
        request, key.get(json.dumps({"rpId": "example.com", "challenge": "eHh4"}))
    )
    assert result.outcome is Outcome.NO_DEVICE


# -- commands and notices -------------------------------------------------------------------------


def run_command(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_totp_reset_removes_a_key_only_users_keys(user, key):
    by_key = key_session(user, key)
    out = run_command("totp_reset", "alice")
    assert "1 device(s) removed" in out
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not alive(by_key)


def test_totp_status_counts_key_users_as_enrolled(user, key, django_user_model, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    django_user_model.objects.create_user(username="bob")
    found = json.loads(run_command("totp_status", "--json", "--rollout"))
    assert found["enrolled_users"] == 1 and found["security_keys"] == 1
    assert found["rollout"]["usernames"] == ["bob"]


def test_the_notices_name_a_key_as_a_key(user, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        assert register(owner_request(user), SoftAuthenticator(), name="Blue key").accepted
    (added,) = mailoutbox
    assert added.subject == "Test Site: A security key was added to your account"
    assert 'A security key or passkey named "Blue key" was added' in added.body
    request = owner_request(user)
    with django_capture_on_commit_callbacks(execute=True):
        services.remove_device(request, credential(user).pk, kind=DeviceKind.WEBAUTHN)
    assert mailoutbox[-1].subject == "Test Site: A security key was removed from your account"


# -- the admin -------------------------------------------------------------------------------------


def test_staff_see_and_reset_a_key_only_user_in_the_admin(request, user, key):
    staff = request.getfixturevalue("admin_client")  # tests/test_admin.py's
    by_key = key_session(user, key)
    page = staff.get(user_page(user)).content.decode()
    assert "Security keys and passkeys" in page and "Blue key" in page
    assert "has not set up two-factor authentication" not in page
    assert panel_url(user, "reset") in page  # before: no button, and the view said "no devices"
    confirm = staff.get(panel_url(user, "reset"))
    assert "Yes, reset" in confirm.content.decode()
    response = staff.post(panel_url(user, "reset"), {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == user_page(user)
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not alive(by_key)
