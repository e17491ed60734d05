"""Switching with security keys and passkeys: registered through each source package's own
ceremony by a software authenticator, imported, then used on our pages (R36, W2).

Each source registers a key the way its views do (its options, the authenticator's answer, its
own verification and storage). The same authenticator then signs in here: as a second factor
on the code page, and where the key is a passkey, alone through passkey sign-in.
"""

from __future__ import annotations

import json
import uuid
from io import StringIO

import pytest
from allauth.core import context
from allauth.mfa.models import Authenticator
from allauth.mfa.webauthn.internal import auth as allauth_webauthn
from django.contrib.sessions.backends.db import SessionStore
from django.core.management import call_command
from django.db import connection, models
from django.test import Client, RequestFactory
from django_mfa.adapters.webauthn import WebAuthnAdapter
from django_mfa.models import Authenticator as MFAAuthenticator
from django_otp_webauthn.models import WebAuthnAttestation
from django_otp_webauthn.models import WebAuthnCredential as OTPWebAuthnCredential
from two_factor.plugins.webauthn import utils as two_factor_utils
from two_factor.plugins.webauthn.forms import DefaultWebauthnEntitiesFormMixin
from two_factor.plugins.webauthn.models import WebauthnDevice
from webauthn.helpers.structs import PublicKeyCredentialRpEntity

from django_totp.imports import allauth as allauth_source
from django_totp.models import ImportedRow, VerifiedSession, WebAuthnCredential

from ..authenticator import ORIGIN, RP_ID, SoftAuthenticator
from ..test_webauthn import webauthn_on  # noqa: F401 (autouse: keys on, for RP_ID)
from ..test_webauthn_views import use_key
from .test_django_otp import counts, run, sign_in

pytestmark = pytest.mark.django_db

KEY_IMPORTED = {("webauthn", "imported"): 1}


def old_site_request(user):
    """A request to the old site, signed in as ``user``, with a session of its own."""
    request = RequestFactory().post("/", HTTP_HOST=RP_ID, secure=True)
    request.user = user
    request.session = SessionStore()
    return request


def with_two_factor(user, authenticator: SoftAuthenticator) -> WebauthnDevice:
    """What django-two-factor-auth's setup wizard does with its webauthn plugin."""
    entities = DefaultWebauthnEntitiesFormMixin()
    entities.request = old_site_request(user)
    rp = PublicKeyCredentialRpEntity(id=RP_ID, name="Example")
    options, challenge = two_factor_utils.make_credential_creation_options(
        entities.webauthn_user, rp, []
    )
    token = authenticator.create(options)
    public_key, key_handle, sign_count = two_factor_utils.verify_registration_response(
        RP_ID, ORIGIN, challenge, token
    )
    return WebauthnDevice.objects.create(
        user=user,
        name="default",
        public_key=public_key,
        key_handle=key_handle,
        sign_count=sign_count,
        confirmed=True,
    )


def with_otp_webauthn(user, authenticator: SoftAuthenticator, *, resident: bool = True):
    """What django-otp-webauthn's registration views do."""
    helper = OTPWebAuthnCredential.get_webauthn_helper(old_site_request(user))
    options, state = helper.register_begin(user)
    response = authenticator.create(json.dumps(options), resident=resident)
    return helper.register_complete(user, state, json.loads(response))


def with_allauth(user, authenticator: SoftAuthenticator, *, passwordless: bool = True):
    """What allauth's "add a security key" view does."""
    request = old_site_request(user)
    with context.request_context(request):
        options = allauth_webauthn.begin_registration(user, passwordless)
        response = json.loads(
            authenticator.create(json.dumps(options["publicKey"]), resident=passwordless)
        )
        allauth_webauthn.complete_registration(response)
        return allauth_webauthn.WebAuthn.add(user, "Blue key", response).instance


def with_django_mfa(user, authenticator: SoftAuthenticator) -> Authenticator:
    """What django-mfa's enrolment view does with its WebAuthn adapter."""
    request = old_site_request(user)
    adapter = WebAuthnAdapter()
    options = json.loads(adapter.begin_enroll(request)["options"])
    response = authenticator.create(json.dumps(options["publicKey"]), resident=True)
    return adapter.complete_enroll(request, {"credential": response, "name": "Blue key"})


SOURCES = {
    "two-factor": with_two_factor,
    "django-otp": with_otp_webauthn,
    "allauth": with_allauth,
    "django-mfa": with_django_mfa,
}


def signed_in_with_key(user, authenticator: SoftAuthenticator) -> Client:
    client = sign_in(user)
    response = use_key(client, authenticator)
    assert response.status_code == 302, response.content
    assert client.get("/private/").status_code == 200
    return client


@pytest.mark.parametrize("source", SOURCES)
def test_a_key_from_the_old_site_signs_in_here(user, source, settings):
    settings.TWO_FACTOR_WEBAUTHN_RP_ID = RP_ID  # where django-two-factor-auth keeps it
    authenticator = SoftAuthenticator()
    SOURCES[source](user, authenticator)
    assert counts(run("--from", source)) == KEY_IMPORTED
    key = WebAuthnCredential.objects.get(user=user)
    assert bytes(key.credential_id) == authenticator.credential_id
    assert bytes(key.public_key) == authenticator.cose_public_key()
    client = signed_in_with_key(user, authenticator)
    assert VerifiedSession.objects.filter(session_key=client.session.session_key).exists()
    # Imported once: a second run takes nothing.
    assert counts(run("--from", source)) == {("webauthn", "already_imported"): 1}
    assert WebAuthnCredential.objects.count() == 1


@pytest.mark.parametrize("source", ["django-otp", "allauth", "django-mfa"])
def test_a_passkey_from_the_old_site_signs_in_alone(user, source, settings):
    settings.TOTP_PASSKEY_SIGN_IN = True
    authenticator = SoftAuthenticator()
    SOURCES[source](user, authenticator)
    run("--from", source)
    assert WebAuthnCredential.objects.get(user=user).discoverable is True
    client = Client()
    options = client.post("/2fa/passkey/begin/").content.decode()
    # The authenticator answers with the user handle the old site registered it with.
    response = client.post("/2fa/passkey/finish/", {"credential": authenticator.get(options)})
    assert response.status_code == 302, response.content
    assert client.get("/private/").status_code == 200


def test_an_imported_passkey_answering_with_another_handle_is_refused(user, settings):
    settings.TOTP_PASSKEY_SIGN_IN = True
    authenticator = SoftAuthenticator()
    with_otp_webauthn(user, authenticator)
    run()
    authenticator.user_handle = b"someone else"
    client = Client()
    options = client.post("/2fa/passkey/begin/").content.decode()
    client.post("/2fa/passkey/finish/", {"credential": authenticator.get(options)})
    assert client.get("/private/").status_code == 302


@pytest.mark.parametrize("source", ["django-otp", "allauth"])
def test_keys_made_for_another_rp_id_are_refused(user, source, settings):
    """The registration's authenticator data names the RP ID: the settings cannot override it."""
    SOURCES[source](user, SoftAuthenticator())
    settings.TOTP_WEBAUTHN_RP_ID = "accounts.example.com"
    settings.TOTP_WEBAUTHN_ORIGINS = ["https://accounts.example.com"]
    assert counts(run("--from", source, "--rp-id", "accounts.example.com")) == {
        ("webauthn", "rp_id_changed"): 1
    }
    assert not WebAuthnCredential.objects.exists()


def test_two_factor_keys_need_their_rp_id_named(user, settings):
    authenticator = SoftAuthenticator()
    with_two_factor(user, authenticator)
    assert counts(run("--from", "two-factor")) == {("webauthn", "rp_id_unknown"): 1}
    assert counts(run("--from", "two-factor", "--rp-id", "other.example")) == {
        ("webauthn", "rp_id_changed"): 1
    }
    settings.TWO_FACTOR_WEBAUTHN_RP_ID = "other.example"
    assert counts(run("--from", "two-factor", "--rp-id", RP_ID)) == {
        ("webauthn", "rp_id_changed"): 1
    }
    del settings.TWO_FACTOR_WEBAUTHN_RP_ID
    assert counts(run("--from", "two-factor", "--rp-id", RP_ID)) == KEY_IMPORTED
    signed_in_with_key(user, authenticator)


def test_two_factor_keys_take_the_rp_id_of_its_setting(user, settings):
    settings.TWO_FACTOR_WEBAUTHN_RP_ID = RP_ID
    authenticator = SoftAuthenticator()
    with_two_factor(user, authenticator)
    assert counts(run("--from", "two-factor")) == KEY_IMPORTED
    signed_in_with_key(user, authenticator)


def test_with_keys_off_here_they_wait_for_a_later_run(user, settings):
    with_allauth(user, SoftAuthenticator())
    settings.TOTP_WEBAUTHN = False
    report = run("--from", "allauth")
    assert counts(report) == {("webauthn", "webauthn_off"): 1}
    assert report["users_imported"] == 0 and not WebAuthnCredential.objects.exists()
    settings.TOTP_WEBAUTHN = True
    assert counts(run("--from", "allauth")) == KEY_IMPORTED


def test_the_table_says_what_to_do_about_keys_it_could_not_place(user, settings):
    with_two_factor(user, SoftAuthenticator())
    out = StringIO()
    call_command("totp_import", "--from", "two-factor", stdout=out)
    assert "run again with --rp-id" in out.getvalue()
    out = StringIO()
    call_command("totp_import", "--from", "two-factor", "--rp-id", "other.example", stdout=out)
    assert "Set TOTP_WEBAUTHN_RP_ID to the one the old site used" in out.getvalue()
    settings.TOTP_WEBAUTHN = False
    out = StringIO()
    call_command("totp_import", "--from", "two-factor", stdout=out)
    assert "switch TOTP_WEBAUTHN on" in out.getvalue()


def test_a_dry_run_imports_no_key(user):
    with_allauth(user, SoftAuthenticator())
    assert counts(run("--from", "allauth", "--dry-run")) == KEY_IMPORTED
    assert not WebAuthnCredential.objects.exists() and not ImportedRow.objects.exists()


def signed_in_then_removed_at_the_old_site(user) -> Client:
    """Two keys imported; a browser signed in with the first, which the old site then removes."""
    authenticator = SoftAuthenticator()
    old = with_otp_webauthn(user, authenticator)
    with_otp_webauthn(user, SoftAuthenticator())
    run()
    client = signed_in_with_key(user, authenticator)
    old.delete()
    return client


def test_a_key_removed_at_the_old_site_is_removed_here_and_its_sessions_end(
    user, mailoutbox, django_capture_on_commit_callbacks
):
    client = signed_in_then_removed_at_the_old_site(user)
    with django_capture_on_commit_callbacks(execute=True):
        report = run()
    assert counts(report) == {
        ("webauthn", "already_imported"): 1,
        ("webauthn", "removed_at_source"): 1,
    }
    assert WebAuthnCredential.objects.filter(user=user).count() == 1
    assert client.get("/private/").status_code == 302
    assert [m.subject.split(": ")[-1] for m in mailoutbox] == [
        "A security key was removed from your account"
    ]


def test_keys_and_apps_of_one_user_come_together_and_count_as_devices(user):
    """A user whose only device was a key keeps the backup codes beside it."""
    Authenticator.objects.create(
        user=user, type="recovery_codes", data={"migrated_codes": ["12345678", "23456789"]}
    )
    with_allauth(user, SoftAuthenticator())
    report = run("--from", "allauth")
    assert counts(report) == {("backup_code", "imported"): 2, **KEY_IMPORTED}
    assert report["users_imported"] == 1


def test_a_user_with_a_key_of_their_own_here_keeps_only_theirs(user):
    own = WebAuthnCredential(
        user=user, name="Mine", public_key=SoftAuthenticator().cose_public_key()
    )
    own.set_credential_id(b"registered here")
    own.save()
    with_allauth(user, SoftAuthenticator())
    assert counts(run("--from", "allauth")) == {("webauthn", "already_enrolled"): 1}
    assert list(WebAuthnCredential.objects.all()) == [own]


def test_a_credential_registered_here_to_someone_else_is_not_imported_twice(
    user, django_user_model
):
    authenticator = SoftAuthenticator()
    with_allauth(user, authenticator)
    other = django_user_model.objects.create_user("bob", password="x")
    theirs = WebAuthnCredential(user=other, name="Theirs", public_key=b"\xa0")
    theirs.set_credential_id(authenticator.credential_id)  # registered here, by someone else
    theirs.save()
    report = run("--from", "allauth")
    assert counts(report) == {("webauthn", "key_here"): 1}
    assert WebAuthnCredential.objects.get() == theirs
    # Two accounts of the old site with one credential: test_attacks.py, key_shared.


@pytest.mark.parametrize(
    ("source", "spoil"),
    [
        ("allauth", lambda row: row.data["credential"]["response"].update(attestationObject="x")),
        ("allauth", lambda row: row.data.update(credential="not a credential")),
        ("django-mfa", lambda row: row.data.update(credential_data="00" * 40)),
        ("two-factor", lambda row: setattr(row, "public_key", "bm90IGEga2V5")),
        ("two-factor", lambda row: setattr(row, "key_handle", "not/base64url=")),
    ],
)
def test_keys_not_as_their_package_writes_them_are_refused(user, settings, source, spoil):
    settings.TWO_FACTOR_WEBAUTHN_RP_ID = RP_ID
    row = SOURCES[source](user, SoftAuthenticator())
    spoil(row)
    row.save()
    assert counts(run("--from", source)) == {("webauthn", "bad_key"): 1}


def test_an_attestation_of_another_credential_is_refused(user):
    """django-otp-webauthn: the attestation kept beside a key must be that key's."""
    first = with_otp_webauthn(user, SoftAuthenticator())
    second = with_otp_webauthn(user, SoftAuthenticator())
    WebAuthnAttestation.objects.filter(credential=first).update(
        data=WebAuthnAttestation.objects.get(credential=second).data
    )
    assert counts(run()) == {("webauthn", "bad_key"): 1, ("webauthn", "imported"): 1}


def test_the_import_of_keys_works_with_the_old_apps_gone(user, settings):
    authenticator = SoftAuthenticator()
    with_otp_webauthn(user, authenticator)
    settings.INSTALLED_APPS = [
        app for app in settings.INSTALLED_APPS if not app.startswith(("django_otp", "two_factor"))
    ]
    assert counts(run()) == KEY_IMPORTED
    signed_in_with_key(user, authenticator)


def test_unconfirmed_keys_and_keys_with_an_unreadable_attestation_are_refused(user, settings):
    settings.TWO_FACTOR_WEBAUTHN_RP_ID = RP_ID
    unfinished = with_two_factor(user, SoftAuthenticator())
    WebauthnDevice.objects.filter(pk=unfinished.pk).update(confirmed=False)
    assert counts(run("--from", "two-factor")) == {("webauthn", "unconfirmed"): 1}
    row = with_allauth(user, SoftAuthenticator())
    row.data["credential"]["response"]["attestationObject"] = "AAAA"  # base64url, not CBOR
    row.save()
    assert counts(run("--from", "allauth")) == {("webauthn", "bad_key"): 1}


@pytest.mark.parametrize(
    ("field", "stored", "expected"),
    [
        (models.AutoField(primary_key=True), 1295, "zz"),
        (models.BigAutoField(primary_key=True), "36", "10"),
        (models.UUIDField(primary_key=True), "12345678123456781234567812345678", "12345678" * 4),
        (models.UUIDField(primary_key=True), uuid.UUID(int=1), "0" * 31 + "1"),
        (models.CharField(primary_key=True), "alice", "alice"),
    ],
)
def test_allauths_user_handle_is_its_user_pk_to_url_str(field, stored, expected):
    """What allauth's ``user_pk_to_url_str`` gives for each kind of primary key."""
    assert allauth_source.url_str(field, stored) == expected


def test_django_otp_webauthn_keys_without_their_attestation_take_its_rp_id_setting(user, settings):
    authenticator = SoftAuthenticator(transports=("usb", "carrier pigeon"))
    with_otp_webauthn(user, authenticator)
    WebAuthnAttestation.objects.all().delete()
    del settings.OTP_WEBAUTHN_RP_ID
    assert counts(run()) == {("webauthn", "rp_id_unknown"): 1}
    settings.OTP_WEBAUTHN_RP_ID = RP_ID
    assert counts(run()) == KEY_IMPORTED
    assert WebAuthnCredential.objects.get().transport_list == ["usb"]
    signed_in_with_key(user, authenticator)


def test_django_mfa_keys_not_as_it_writes_them_are_refused(user):
    with_django_mfa(user, SoftAuthenticator())
    for credential_data in (None, "not hex", "00" * 17, "00" * 18):
        MFAAuthenticator.objects.create(
            user=user, type="webauthn", data={"credential_data": credential_data}
        )
    assert counts(run("--from", "django-mfa")) == {
        ("webauthn", "bad_key"): 4,
        ("webauthn", "imported"): 1,
    }


@pytest.mark.skipif(connection.vendor != "sqlite", reason="PostgreSQL's uuid type refuses it")
def test_a_django_mfa_handle_that_is_not_a_uuid_is_no_handle(user):
    """SQLite keeps a UUID as text, which a hand-edited row can spoil."""
    with_django_mfa(user, SoftAuthenticator())
    with connection.cursor() as cursor:
        cursor.execute("UPDATE django_mfa_mfauserhandle SET handle = 'nonsense'")
    run("--from", "django-mfa")
    assert WebAuthnCredential.objects.get().user_handle is None


def test_a_site_with_django_otp_webauthn_alone_imports_its_keys(user):
    """django-otp-webauthn needs none of django-otp's plugins: their tables may never exist."""
    authenticator = SoftAuthenticator()
    with_otp_webauthn(user, authenticator)
    with connection.cursor() as cursor:  # dropped in the test's transaction, back afterwards
        for table in ("otp_static_statictoken", "otp_static_staticdevice", "otp_totp_totpdevice"):
            cursor.execute(f"DROP TABLE {connection.ops.quote_name(table)}")
    assert counts(run()) == KEY_IMPORTED
    signed_in_with_key(user, authenticator)
