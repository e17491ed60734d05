"""Attacks of the security review of 2026-11-26 on ``totp_import`` (R36): crafted source rows,
and what the user or staff decided here."""

from __future__ import annotations

import datetime
import logging

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.db import connection
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice as OTPDevice
from django_otp_webauthn.models import WebAuthnCredential as OTPWebAuthnCredential

from django_totp import imports, services
from django_totp.imports import service
from django_totp.models import EnrolmentGrace, ImportedRow, TOTPAccount, WebAuthnCredential
from django_totp.services import Outcome

from ..authenticator import RP_ID, SoftAuthenticator, b64url
from ..test_webauthn import switch_keys_on
from ..test_webauthn_views import use_key
from .test_allauth import allauth_totp
from .test_concurrency import escaped, together
from .test_django_otp import counts, run, sign_in
from .test_keys import (
    signed_in_then_removed_at_the_old_site,
    signed_in_with_key,
    with_allauth,
    with_otp_webauthn,
    with_two_factor,
)

pytestmark = pytest.mark.django_db


def _recovery_row(user):
    codes = RecoveryCodes.activate(user)
    return codes.instance


# Failed before the fix: a string where allauth keeps a list is iterated character by character;
# eight one-character "recovery codes" are imported, and "1" signs the user in.
def test_migrated_codes_that_are_not_a_list_are_refused_not_split_into_characters(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    allauth_totp(user)
    row = _recovery_row(user)
    row.data = {"migrated_codes": "12345678"}
    row.save()
    report = run("--from", "allauth")
    assert counts(report).get(("backup_code", "imported"), 0) == 0, counts(report)
    assert services.verify_recovery_code(user, "1").outcome is not Outcome.ACCEPTED


# Failed before the fix: one row whose JSON data is not an object stops the whole run (every other
# user's import too) with an AttributeError traceback, instead of a refusal with a reason.
@pytest.mark.parametrize("data", [["x"], "text", 7])
def test_a_totp_row_whose_data_is_not_an_object_is_refused_not_a_crash(user, data):
    allauth_totp(user)
    Authenticator.objects.filter(user=user, type="totp").update(data=data)
    report = run("--from", "allauth")
    assert counts(report) == {("totp", "bad_key"): 1}


# Failed before the fix: a seed that is not ASCII is outside _codes' try block:
# UnicodeEncodeError ends the run.
@pytest.mark.parametrize("seed", ["séed"])
def test_a_recovery_seed_that_is_not_ascii_is_a_bad_key_not_a_crash(user, seed):
    allauth_totp(user)
    row = _recovery_row(user)
    row.data = {"seed": seed}
    row.save()
    report = run("--from", "allauth", "--decrypt", "builtins.str")
    assert counts(report)[("backup_code", "bad_key")] == 1


# Failed before the fix (low): "carries nothing weaker over" held for keys (< 128 bits
# refused), not for backup codes: django-otp's StaticToken holds any string an admin typed
# (addstatictoken -t, the admin), and a one-character code was imported and accepted.
def test_a_one_character_backup_code_is_not_carried_over(user, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    StaticDevice.objects.create(user=user, name="backup").token_set.create(token="7")
    report = run()
    assert counts(report).get(("backup_code", "imported"), 0) == 0, counts(report)
    assert services.verify_recovery_code(user, "7").outcome is not Outcome.ACCEPTED


# Held already: last_t below -1 (crafted) is "no code used", never a step before 1970
# that breaks R9.
def test_a_negative_last_t_is_no_last_step(user):
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True, last_t=-(2**62))
    assert counts(run()) == {("totp", "imported"): 1}
    assert user.totp_devices.get().last_used_step is None


# Failed before the fix: the first run refused the old phone (already_enrolled); the user then turns
# 2FA off here (services.disable is reset_user(actor=user): no trace is kept, unlike a staff
# reset). The next run imports the old phone after all: a decision the user made here (often:
# the phone is lost, and it held both secrets) is undone, and their account gets a device
# they did not add here. Only staff resets are remembered (reset_by_staff_at).
def test_a_user_who_enrolled_here_and_then_turned_2fa_off_is_not_given_the_old_phone(user):
    from django_totp.models import TOTPDevice
    from tests.conftest import make_device

    OTPDevice.objects.create(user=user, name="old phone", confirmed=True)
    make_device(user)
    assert counts(run()) == {("totp", "already_enrolled"): 1}
    services.reset_user(user, actor=user, event="disabled")  # what services.disable does
    report = run()
    assert not TOTPDevice.objects.filter(user=user).exists(), counts(report)


# Failed before the fix (low): a later run withdraws an app removed at the old site with a bare
# QuerySet.delete(): sessions end (the post_delete receiver), but no devices_reset/removed
# signal, no security-log "removed" event and no e-mail. The user never hears that their
# 2FA here was taken away by something done at the other site (R35); whoever did it there can
# now sign in here with the password alone (or enrol their own app, if the policy requires one).
def test_a_device_withdrawn_because_it_left_the_old_site_is_announced(
    user, django_capture_on_commit_callbacks, mailoutbox
):
    phone = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    run()
    phone.delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert counts(run()) == {("totp", "removed_at_source"): 1}
    assert [m.to for m in mailoutbox] == [[user.email]]


# Failed before the fix (high): "Users staff reset here are not imported at all" rests on
# TOTPAccount.reset_by_staff_at, which tell_of_staff_reset() clears at the user's next
# password sign-in (anyone's who has the password: the phone thief's too). After that, the
# next run imports the old site's app, typically on the very phone the reset was for.
def test_a_user_reset_by_staff_is_still_not_imported_after_signing_in_again(user, staff_user):
    from django.test import Client

    from django_totp.models import TOTPDevice
    from tests.conftest import PASSWORD, make_device

    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)  # the lost phone, old site
    make_device(user)  # enrolled here too (same phone)
    assert counts(run()) == {("totp", "already_enrolled"): 1}
    services.reset_user(user, actor=staff_user)  # phone reported lost: staff reset here
    assert Client().login(username=user.username, password=PASSWORD)  # user or thief signs in
    report = run()
    assert not TOTPDevice.objects.filter(user=user).exists(), counts(report)
    assert counts(report) == {("totp", "reset_here"): 1}


# Failed before the fix: django-mfa rows with wrong JSON types. "codes" as a string is split into
# one-character codes; "used" holding the indexes as strings ("1") is not matched against the
# integer index, so a code used at the old site is imported as unused.
@pytest.mark.parametrize(
    ("data", "typed"),
    [
        ({"codes": "12345678", "migrated_plaintext": True}, "1"),
        (
            {"codes": ["Ab3dEf7hJk", "Zz9yXx8wVv"], "used": ["1"], "migrated_plaintext": True},
            "Zz9yXx8wVv",
        ),
    ],
)
def test_django_mfa_codes_of_the_wrong_type_are_not_imported(user, settings, data, typed):
    from django_mfa.adapters.recovery_codes import RecoveryCodesAdapter
    from django_mfa.models import Authenticator as MFAAuthenticator

    from .test_django_mfa import enrol_with_django_mfa, mfa

    settings.TOTP_THROTTLE_FACTOR = 0
    enrol_with_django_mfa(user)
    RecoveryCodesAdapter().generate(user)
    MFAAuthenticator.objects.filter(type="recovery_codes").update(data=data)
    mfa()
    assert services.verify_recovery_code(user, typed).outcome is not Outcome.ACCEPTED


# Security keys and passkeys (the review of issue 16's import).


@pytest.fixture
def keys_on(settings):
    """Security keys on here, for the RP ID the old site registered them for (its host name,
    which tests/imports/settings.py allows)."""
    switch_keys_on(settings)
    settings.TWO_FACTOR_WEBAUTHN_RP_ID = RP_ID


# Failed before the fix (medium): django-two-factor-auth's key_handle "" decodes to an empty
# credential id (django-mfa's credential data can say length 0). The first user's was imported;
# the second's was missed by the check for ids registered here (an empty id is falsy) and its
# insert hit the unique index: an IntegrityError ended the whole run, every later user with it.
# Ids over 1023 bytes were imported too, keys that no assertion can ever name (W7).
@pytest.mark.parametrize("credential_id", [b"", bytes(1024)])
def test_empty_or_oversized_credential_ids_are_bad_keys_not_a_crash(
    user, django_user_model, keys_on, credential_id
):
    other = django_user_model.objects.create_user("bob", password="x")
    for owner in (user, other):
        row = with_two_factor(owner, SoftAuthenticator())
        row.key_handle = b64url(credential_id)
        row.save()
    assert counts(run("--from", "two-factor")) == {("webauthn", "bad_key"): 2}
    assert not WebAuthnCredential.objects.exists()


# Failed before the fix (low): allauth and django-two-factor-auth keep no unique credential id,
# so a user of the old site whose own software authenticator registered with the credential id of
# someone else's key (seen in allowCredentials) held it beside its owner. The run gave it to
# whichever user id sorted first as text ("10" before "9"): the attacker's public key here under
# the victim's credential id, the victim's key refused as key_here, and a victim whose key was
# their only device left without 2FA. A credential id the source gives to two accounts is
# imported for neither; one imported earlier stays with its account.
def test_a_credential_id_two_accounts_hold_at_the_source_is_imported_for_neither(
    user, django_user_model, keys_on
):
    victim = SoftAuthenticator()
    with_allauth(user, victim)
    mallory = django_user_model.objects.create_user("10", password="x")
    with_allauth(mallory, SoftAuthenticator(credential_id=victim.credential_id))
    assert counts(run("--from", "allauth")) == {("webauthn", "key_shared"): 2}
    assert not WebAuthnCredential.objects.exists()


def test_a_credential_id_claimed_at_the_source_after_a_first_run_does_not_move_or_go(
    user, django_user_model, keys_on
):
    victim = SoftAuthenticator()
    with_allauth(user, victim)
    assert counts(run("--from", "allauth")) == {("webauthn", "imported"): 1}
    mallory = django_user_model.objects.create_user("10", password="x")
    with_allauth(mallory, SoftAuthenticator(credential_id=victim.credential_id))
    assert counts(run("--from", "allauth")) == {
        ("webauthn", "already_imported"): 1,
        ("webauthn", "key_shared"): 1,
    }
    assert WebAuthnCredential.objects.get().user == user
    signed_in_with_key(user, victim)


# Failed before the fix (low): a dry run withdrew what the source had lost inside the
# transaction it rolls back, but ending the withdrawn key's sessions deletes them from the
# session store at once: with the cache session engine, a dry run signed the user out for good.
def test_a_dry_run_signs_nobody_out(user, keys_on, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.cache"
    client = signed_in_then_removed_at_the_old_site(user)
    report = run("--dry-run")
    assert counts(report)[("webauthn", "removed_at_source")] == 1
    assert client.get("/private/").status_code == 200
    assert WebAuthnCredential.objects.filter(user=user).count() == 2


# Failed before the fix (low, R15): a run that imported only security keys logged no
# "imported" event; apps, codes and withdrawals did.
def test_a_run_importing_only_keys_is_logged(user, keys_on, caplog):
    with_allauth(user, SoftAuthenticator())
    with caplog.at_level(logging.INFO, logger="django_totp"):
        run("--from", "allauth")
    assert any(r.getMessage().startswith("totp imported ") for r in caplog.records)


# Failed before the fix (medium on PostgreSQL): transports were filtered to the known names but
# not deduplicated, so a crafted list (allauth's response.transports, django-mfa's and
# django-otp-webauthn's JSON) of 50 "usb" overflowed the 128-character column: a DataError ended
# the whole run on PostgreSQL, and SQLite stored 199 characters. Registration here stores each
# name once, sorted.
def test_repeated_transports_are_stored_once_not_a_crash(user, keys_on):
    row = with_allauth(user, SoftAuthenticator())
    row.data["credential"]["response"]["transports"] = ["usb"] * 50 + ["nfc", "usb", "pigeon"]
    row.save()
    assert counts(run("--from", "allauth")) == {("webauthn", "imported"): 1}
    assert WebAuthnCredential.objects.get().transports == "nfc usb"


# Failed before the fix (low, SQLite): SQLite keeps any text in a timestamp column, and Django's
# parse_datetime raises ValueError for text shaped like a timestamp that is none ("February
# 30th"): one such row ended the whole run. Such a date is no date.
def test_an_impossible_timestamp_is_no_timestamp_not_a_crash(user, keys_on):
    if connection.vendor != "sqlite":
        pytest.skip("other databases keep only valid timestamps")
    with_allauth(user, SoftAuthenticator())
    with connection.cursor() as cursor:
        cursor.execute("UPDATE mfa_authenticator SET created_at = '2020-02-30 10:00:00'")
    assert counts(run("--from", "allauth")) == {("webauthn", "imported"): 1}
    # A true timestamp still comes over.
    with connection.cursor() as cursor:
        cursor.execute("UPDATE mfa_authenticator SET created_at = '2020-02-29 10:00:00'")
    WebAuthnCredential.objects.all().delete()
    ImportedRow.objects.all().delete()
    EnrolmentGrace.objects.all().delete()  # or the user counts as reset here
    run("--from", "allauth")
    created = WebAuthnCredential.objects.get().created_at
    assert created == datetime.datetime(2020, 2, 29, 10, tzinfo=datetime.UTC)


# Failed before the fix (low): the check for credential ids registered here runs before the
# insert, outside any lock another account's registration takes, so a registration of the same
# id committing in between (here: the check made blind to it) broke the run with an
# IntegrityError from the unique index. The key is key_here, and the run goes on.
def test_a_credential_registered_here_during_the_run_is_key_here_not_a_crash(
    user, django_user_model, keys_on, monkeypatch
):
    authenticator = SoftAuthenticator()
    with_allauth(user, authenticator)
    other = django_user_model.objects.create_user("bob", password="x")
    theirs = WebAuthnCredential(user=other, name="Theirs", public_key=b"\xa0")
    theirs.set_credential_id(authenticator.credential_id)
    theirs.save()
    registered = service._registered
    calls = []

    def racing(rows):
        # Blind the first check only: the registration commits just after it.
        calls.append(rows)
        return frozenset() if len(calls) == 1 else registered(rows)

    monkeypatch.setattr(service, "_registered", racing)
    report = run("--from", "allauth")
    assert counts(report) == {("webauthn", "key_here"): 1}
    assert report["users_imported"] == 0
    assert list(WebAuthnCredential.objects.all()) == [theirs]
    assert not ImportedRow.objects.exists()


# Failed before the fix (medium, an operator's mistake): the sources django-otp and two-factor
# share one ledger, since they read the same apps and codes, but only two-factor read
# django-two-factor-auth's security keys. After a run --from two-factor, a run --from django-otp
# found none of them at the source and withdrew every one: sessions ended, users e-mailed, and
# a key-only user's 2FA turned off with their recovery codes.
def test_a_run_from_django_otp_keeps_the_keys_a_run_from_two_factor_imported(user, keys_on):
    authenticator = SoftAuthenticator()
    with_two_factor(user, authenticator)
    assert counts(run("--from", "two-factor")) == {("webauthn", "imported"): 1}
    assert counts(run("--from", "django-otp")) == {("webauthn", "already_imported"): 1}
    signed_in_with_key(user, authenticator)


# Failed before the fix (medium): django-otp-webauthn's keys and django-two-factor-auth's were
# both recorded by their table's row id alone, so key 1 of one table was key 1 of the other:
# with both tables in use the second key broke the run on the ledger's unique index, and a key
# of one table passed as "already imported" or "still at the source" for the other.
def test_keys_of_the_two_key_tables_with_the_same_id_are_two_keys(user, keys_on):
    first, second = SoftAuthenticator(), SoftAuthenticator()
    with_two_factor(user, first)
    with_otp_webauthn(user, second)
    assert counts(run("--from", "two-factor")) == {("webauthn", "imported"): 2}
    assert counts(run("--from", "django-otp")) == {("webauthn", "already_imported"): 2}
    signed_in_with_key(user, first)
    signed_in_with_key(user, second)


# Held (regression): a staff reset after the import removes the key for good; a later run
# neither brings it back nor takes a key added at the old site since (reset_here).
def test_a_key_staff_reset_after_the_import_stays_gone(user, staff_user, keys_on):
    with_allauth(user, SoftAuthenticator())
    run("--from", "allauth")
    services.reset_user(user, actor=staff_user)
    with_allauth(user, SoftAuthenticator())
    assert counts(run("--from", "allauth")) == {
        ("webauthn", "already_imported"): 1,
        ("webauthn", "reset_here"): 1,
    }
    assert not WebAuthnCredential.objects.exists()


# Held (regression): the counter the old site last saw comes over, so a copy of the key made
# before the switch, answering with a lower counter, is a clone here (W3).
def test_a_copy_of_a_key_with_a_lower_counter_is_a_clone_after_the_import(user, keys_on):
    authenticator = SoftAuthenticator()
    copy = authenticator.clone()
    with_otp_webauthn(user, authenticator)
    authenticator.counter = 40  # used at the old site since; django-otp-webauthn kept the count
    OTPWebAuthnCredential.objects.update(sign_count=40)
    run()
    client = sign_in(user)
    use_key(client, copy)
    assert client.get("/private/").status_code == 302
    assert WebAuthnCredential.objects.get().sign_count == 40
    signed_in_with_key(user, authenticator)


# Held (regression): a dry run leaves no trace, not even the account row the lock creates or
# the end of an enrolment grace period (which would make the user count as reset here).
def test_a_dry_run_leaves_no_account_row_or_grace_period_behind(user, keys_on):
    with_allauth(user, SoftAuthenticator())
    assert counts(run("--from", "allauth", "--dry-run")) == {("webauthn", "imported"): 1}
    assert not TOTPAccount.objects.filter(user=user).exists()
    assert not EnrolmentGrace.objects.filter(user_id=user.pk, ended_at__isnull=False).exists()
    assert counts(run("--from", "allauth")) == {("webauthn", "imported"): 1}


# Held (regression; SQLite and, under tests.pg, PostgreSQL): runs at once import a key exactly
# once, under the account lock.
@pytest.mark.django_db(transaction=True)
def test_runs_at_once_import_a_key_exactly_once(user, keys_on):
    with_allauth(user, SoftAuthenticator())
    rows = imports.read("allauth")[user.pk]

    def one_run() -> object:
        return service.import_user(user, rows, source="allauth")

    results = together([one_run] * 8)
    assert not escaped(results)
    assert WebAuthnCredential.objects.count() == 1 and ImportedRow.objects.count() == 1
    reasons = sorted(d.reason for result in results for d in result)
    assert reasons.count(imports.Reason.IMPORTED) == 1


# Failed before the fix (low, SQLite): SQLite keeps text in an integer column, and int("x") of a
# key's sign_count ended the whole run. A counter that is no number is a bad key.
@pytest.mark.parametrize("source", ["two-factor", "django-otp"])
def test_a_sign_count_that_is_no_number_is_a_bad_key_not_a_crash(user, keys_on, source):
    if connection.vendor != "sqlite":
        pytest.skip("other databases keep only numbers in an integer column")
    authenticator = SoftAuthenticator()
    with_two_factor(user, authenticator) if source == "two-factor" else with_otp_webauthn(
        user, authenticator
    )
    with connection.cursor() as cursor:
        for table in (
            "two_factor_webauthn_webauthndevice",
            "django_otp_webauthn_webauthncredential",
        ):
            cursor.execute(f"UPDATE {table} SET sign_count = 'x'")  # noqa: S608
    assert counts(run("--from", source)) == {("webauthn", "bad_key"): 1}


# Failed before the fix (low, SQLite): text in an authenticator app's integer column (digits,
# step, t0, drift, last_t) ended the whole run with a ValueError. The row is a bad key; the
# other users are imported.
@pytest.mark.parametrize("column", ["digits", "step", "t0", "drift", "last_t"])
def test_an_app_row_with_text_for_a_number_is_a_bad_key_not_a_crash(
    user, django_user_model, column
):
    if connection.vendor != "sqlite":
        pytest.skip("other databases keep only numbers in an integer column")
    spoiled = OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    other = django_user_model.objects.create_user("bob", password="x")
    OTPDevice.objects.create(user=other, name="Phone", confirmed=True)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE otp_totp_totpdevice SET {column} = 'x' WHERE id = %s",  # noqa: S608
            [spoiled.pk],
        )
    assert counts(run()) == {("totp", "bad_key"): 1, ("totp", "imported"): 1}


# Failed before the fix (low): an empty user handle at the source was kept as b"", and a passkey
# answering with an empty handle matched it (its signature still had to verify). Handles that
# are empty or longer than WebAuthn allows (64 bytes) are no handle.
@pytest.mark.parametrize("handle", ["", "ab" * 65])
def test_an_empty_or_overlong_source_handle_is_no_handle(user, keys_on, settings, handle):
    if len(handle) > 128 and connection.vendor != "sqlite":
        pytest.skip("other databases keep the column's 128 characters at most")
    settings.TOTP_PASSKEY_SIGN_IN = True
    authenticator = SoftAuthenticator()
    with_otp_webauthn(user, authenticator)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE django_otp_webauthn_webauthnuserhandle SET handle_hex = %s", [handle]
        )
    run()
    assert WebAuthnCredential.objects.get().user_handle is None
