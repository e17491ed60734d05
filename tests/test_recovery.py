"""R22 (with R5, R12-R15, R18): recovery codes, from the pure helpers to the pages."""

from __future__ import annotations

import hmac
import logging
import math
from unittest import mock

import pytest
import time_machine
from django.db import connection
from django.test import Client

from django_totp import crypto, recovery, services
from django_totp.models import RecoveryCode, TOTPAccount, TOTPDevice
from django_totp.services import Outcome

from .conftest import PASSWORD, make_device, owner_request

pytestmark = pytest.mark.django_db
VERIFY = "/2fa/verify/"
RECOVERY = "/2fa/verify/recovery/"
SETUP = "/2fa/setup/"


class TestCodes:
    def test_a_set_is_ten_distinct_codes_of_at_least_fifty_bits(self):
        codes = recovery.generate_codes()
        assert len(codes) == len(set(codes)) == 10
        assert all(len(code) == recovery.CODE_LENGTH for code in codes)
        assert all(set(code) <= set(recovery.ALPHABET) for code in codes)
        assert len(set(recovery.ALPHABET)) == 32
        assert recovery.CODE_LENGTH * math.log2(len(recovery.ALPHABET)) >= 50

    def test_codes_come_from_the_os_csprng(self):
        with mock.patch("secrets.choice", wraps=__import__("secrets").choice) as choice:
            recovery.generate_codes(1)
        assert choice.call_count == recovery.CODE_LENGTH

    def test_codes_are_grouped_for_reading(self):
        assert recovery.group("k7m2q9xw4tpa") == "k7m2-q9xw-4tpa"

    @pytest.mark.parametrize(
        "typed", ["k7m2-q9xw-4tpa", "K7M2 Q9XW 4TPA", " k7m2q9xw4tpa ", "k7m2-q9xw-4tpa".upper()]
    )
    def test_case_spaces_and_hyphens_do_not_matter(self, typed):
        assert recovery.normalize(typed) == "k7m2q9xw4tpa"

    def test_look_alike_letters_read_as_digits(self):
        assert recovery.normalize("OIL0-0000-0000") == "011000000000"

    @pytest.mark.parametrize(
        "typed",
        [
            "",
            "k7m2-q9xw-4tp",  # too short
            "k7m2-q9xw-4tpaa",  # too long
            "k7m2-q9xw-4tpu",  # u is not in the alphabet
            "ｋ７ｍ２ｑ９ｘｗ４ｔｐａ",  # full-width
            "k7m2q9xw4tрa",  # Cyrillic р
            "k7m2q9xw4tp\x00",
            "k7m2_q9xw_4tpa",
            "k" * 10_000,
        ],
    )
    def test_anything_else_is_not_a_code(self, typed):
        assert recovery.normalize(typed) is None


class TestStorage:
    def test_codes_are_stored_only_as_keyed_digests(self, user, recovery_codes):
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM django_totp_recoverycode")
            raw = repr(cursor.fetchall())
        for code in recovery_codes:
            assert code not in raw and recovery.normalize(code) not in raw
        assert RecoveryCode.objects.filter(user=user).count() == 10

    def test_the_digest_depends_on_the_key(self, settings):
        before = crypto.digests("k7m2q9xw4tpa")
        settings.SECRET_KEY = "another key" * 5
        assert crypto.digests("k7m2q9xw4tpa") != before

    def test_codes_survive_a_secret_key_rotation(self, user, recovery_codes, settings):
        settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
        settings.SECRET_KEY = "the new secret key" * 4
        assert services.verify_recovery_code(user, recovery_codes[0]).accepted

    def test_checking_a_code_costs_one_hash_whatever_the_number_of_codes(
        self, user, recovery_codes
    ):
        # One per way the code may be read (ours, and an imported code's verbatim form).
        readings = recovery.readings(recovery_codes[3])
        assert len(readings) == 2
        with mock.patch("django_totp.crypto.hmac.new", wraps=hmac.new) as hashed:
            services.verify_recovery_code(user, recovery_codes[3])
        assert hashed.call_count == len(readings)


class TestService:
    def test_the_first_confirmed_device_comes_with_ten_codes(self, user, code_for):
        pending = services.start_setup(owner_request(user))
        result = services.confirm_device(pending, code_for(pending))
        assert len(result.recovery_codes) == 10
        assert RecoveryCode.objects.unused().filter(user=user).count() == 10
        assert services.verify_recovery_code(user, result.recovery_codes[0]).accepted

    def test_a_second_device_keeps_the_codes_the_user_has(
        self, user, device, recovery_codes, code_for
    ):
        pending = services.start_setup(owner_request(user))
        result = services.confirm_device(pending, code_for(pending))
        assert result.accepted and result.recovery_codes == ()
        assert services.verify_recovery_code(user, recovery_codes[0]).accepted

    def test_a_code_works_once(self, user, recovery_codes):
        first = services.verify_recovery_code(user, recovery_codes[0])
        assert first.accepted and first.recovery_codes_left == 9
        again = services.verify_recovery_code(user, recovery_codes[0])
        assert again.outcome is Outcome.INVALID

    def test_another_users_code_does_not_work(self, user, recovery_codes, django_user_model):
        bob = django_user_model.objects.create_user("bob", password=PASSWORD)
        make_device(bob)
        assert services.verify_recovery_code(bob, recovery_codes[0]).outcome is Outcome.INVALID

    def test_regenerating_invalidates_the_previous_set_at_once(self, user, recovery_codes):
        new_codes = services.regenerate_recovery_codes(owner_request(user))
        assert not set(new_codes) & set(recovery_codes)
        for code in recovery_codes:
            assert not services.verify_recovery_code(user, code).accepted
        services.unlock_device(TOTPDevice.objects.get(user=user))
        assert services.verify_recovery_code(user, new_codes[0]).accepted

    def test_wrong_codes_back_off_and_a_right_one_during_the_back_off_is_refused(
        self, user, recovery_codes
    ):
        with time_machine.travel(1_700_000_000, tick=False) as clock:
            assert services.verify_recovery_code(user, "0000-0000-0000").outcome is Outcome.INVALID
            refused = services.verify_recovery_code(user, recovery_codes[0])
            assert refused.outcome is Outcome.THROTTLED and refused.retry_after == 1
            clock.shift(1)
            assert services.verify_recovery_code(user, recovery_codes[0]).accepted

    def test_too_many_wrong_codes_lock_recovery_until_staff_unlock(
        self, user, device, recovery_codes, settings, staff_user
    ):
        settings.TOTP_THROTTLE_FACTOR = 0
        settings.TOTP_MAX_FAILURES = 3
        results = [services.verify_recovery_code(user, "0000-0000-0000") for _ in range(3)]
        assert results[-1].locked_out and results[-1].newly_locked
        locked = services.verify_recovery_code(user, recovery_codes[0])
        assert locked.outcome is Outcome.LOCKED
        # Logging in again does not clear it; staff unlocking does.
        Client().login(username=user.username, password=PASSWORD)
        assert services.verify_recovery_code(user, recovery_codes[0]).outcome is Outcome.LOCKED
        services.unlock_device(device, actor=staff_user)
        assert services.verify_recovery_code(user, recovery_codes[0]).accepted

    def test_wrong_recovery_codes_do_not_lock_the_device_and_the_reverse(
        self, user, device, recovery_codes, settings
    ):
        settings.TOTP_THROTTLE_FACTOR = 0
        settings.TOTP_MAX_FAILURES = 2
        for _ in range(2):
            services.verify_code(user, "000000")
        device.refresh_from_db()
        assert device.is_locked
        # R14: a recovery code gets a user with a locked device back in, and unlocks it.
        assert services.verify_recovery_code(user, recovery_codes[0]).accepted
        device.refresh_from_db()
        assert not device.is_locked and device.failure_count == 0

    def test_a_user_without_a_device_has_nothing_to_recover(self, user):
        assert services.verify_recovery_code(user, "0000-0000-0000").outcome is Outcome.NO_DEVICE

    def test_a_reset_deletes_the_codes_and_the_failures(self, user, recovery_codes, staff_user):
        services.verify_recovery_code(user, "0000-0000-0000")
        token = TOTPAccount.objects.get(user=user).remember_token
        services.reset_user(user, actor=staff_user)
        assert not RecoveryCode.objects.filter(user=user).exists()
        # A fresh row that only holds the notice of the staff reset for the next sign-in.
        account = TOTPAccount.objects.get(user=user)
        assert account.failure_count == 0 and account.last_failure_at is None
        assert account.remember_token != token and account.reset_by_staff_at is not None

    def test_use_is_logged_and_signalled_without_the_code(
        self, user, recovery_codes, caplog, settings
    ):
        settings.TOTP_THROTTLE_FACTOR = 0
        received = []
        from django_totp import signals

        def receiver(**kwargs):
            received.append(kwargs)

        signals.recovery_code_used.connect(receiver)
        try:
            with caplog.at_level(logging.INFO, logger="django_totp"):
                services.verify_recovery_code(user, "0000-0000-0000")
                services.verify_recovery_code(user, recovery_codes[1])
        finally:
            signals.recovery_code_used.disconnect(receiver)
        events = [r.totp["event"] for r in caplog.records if hasattr(r, "totp")]
        assert events == ["recovery_refused", "recovery_code_used"]
        assert received[0]["user"] == user and received[0]["remaining"] == 9
        for code in recovery_codes:
            assert code not in caplog.text and recovery.normalize(code) not in caplog.text


class TestPages:
    def test_the_verify_page_offers_a_recovery_code_keeping_next(self, password_client, device):
        html = password_client.get(f"{VERIFY}?next=/private/").content.decode()
        assert f'href="{RECOVERY}?next=%2Fprivate%2F"' in html

    def test_a_password_only_session_reaches_the_recovery_page(self, password_client, device):
        response = password_client.get(RECOVERY)
        assert response.status_code == 200 and 'name="code"' in response.content.decode()
        assert "no-store" in response["Cache-Control"]

    def test_a_recovery_code_verifies_the_session_under_a_new_key(
        self, password_client, recovery_codes
    ):
        before = password_client.cookies["sessionid"].value
        response = password_client.post(f"{RECOVERY}?next=/private/", {"code": recovery_codes[0]})
        assert response.status_code == 302 and response["Location"] == "/private/"
        assert password_client.cookies["sessionid"].value != before
        assert password_client.get("/private/").content == b"private page"
        assert "9 recovery codes left" in password_client.get("/messages/").content.decode()

    def test_with_few_codes_left_the_user_is_asked_to_make_new_ones(
        self, user, password_client, recovery_codes
    ):
        for code in recovery_codes[:7]:
            services.verify_recovery_code(user, code)
        password_client.post(RECOVERY, {"code": recovery_codes[7]})
        shown = password_client.get("/messages/").content.decode()
        assert "2 recovery codes left" in shown and "Make a new set" in shown

    def test_a_wrong_code_is_a_form_error_never_echoed(self, password_client, recovery_codes):
        response = password_client.post(RECOVERY, {"code": "zzzz-zzzz-zzzz"})
        html = response.content.decode()
        assert response.status_code == 200 and "not valid or has already been used" in html
        assert "zzzz" not in html

    @pytest.mark.parametrize("junk", ["ｋ" * 12, "x" * 100_000, "\x00", "' OR 1=1 --"])
    def test_odd_input_is_a_form_error(self, password_client, recovery_codes, junk, settings):
        settings.TOTP_THROTTLE_FACTOR = 0
        response = password_client.post(RECOVERY, {"code": junk})
        assert response.status_code == 200
        assert password_client.get("/private/").status_code == 302

    def test_a_locked_recovery_tells_the_user_what_to_do(
        self, password_client, recovery_codes, settings
    ):
        settings.TOTP_THROTTLE_FACTOR = 0
        settings.TOTP_MAX_FAILURES = 1
        password_client.post(RECOVERY, {"code": "zzzz-zzzz-zzzz"})
        response = password_client.post(RECOVERY, {"code": recovery_codes[0]})
        assert "Ask the site" in response.content.decode()

    def test_the_recovery_page_needs_a_csrf_token(self, user, recovery_codes):
        client = Client(enforce_csrf_checks=True)
        client.login(username=user.username, password=PASSWORD)
        assert client.post(RECOVERY, {"code": recovery_codes[0]}).status_code == 403
        assert RecoveryCode.objects.unused().filter(user=user).count() == 10

    def test_a_user_who_must_enrol_is_sent_to_setup(self, password_client, settings):
        settings.TOTP_REQUIRED_FOR = "everyone"
        response = password_client.get(RECOVERY)
        assert response["Location"].startswith(SETUP)

    def test_the_codes_page_is_shown_once_with_ways_to_keep_them(
        self, password_client, code_for, user
    ):
        password_client.post(SETUP, {"start": "1"})
        pending = TOTPDevice.objects.get(user=user)
        response = password_client.post(SETUP, {"code": code_for(pending)})
        html = response.content.decode()
        assert "no-store" in response["Cache-Control"]
        assert "will not be shown again" in html
        assert 'download="recovery-codes.txt"' in html and 'href="data:text/plain' in html
        assert "data-totp-copy" in html and "data-totp-print" in html
        codes = response.context["codes"]
        assert all(code in html for code in codes)
        # Never again: not on the pages that follow.
        for path in ("/private/", "/2fa/manage/", SETUP):
            page = password_client.get(path).content.decode()
            assert not any(code in page for code in codes)


def test_codes_are_checked_after_a_fresh_login(user, recovery_codes):
    """A recovery code replaces the code step only: the password step still comes first."""
    client = Client()
    response = client.post(RECOVERY, {"code": recovery_codes[0]})
    assert response.status_code == 302 and "/login/" in response["Location"]
    assert RecoveryCode.objects.unused().filter(user=user).count() == 10
