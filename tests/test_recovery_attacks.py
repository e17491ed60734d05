"""Attacks of the security review of 2026-11-26: the verbatim scheme beside ours (R22, R36).
All held: regression guards.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_totp import crypto, recovery, services
from django_totp.models import RecoveryCode, RecoveryCodeScheme
from django_totp.services import Outcome

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db


def store_verbatim(user, code: str) -> None:
    reading = recovery.verbatim(code)
    RecoveryCode.objects.create(
        user=user, digest=crypto.digests(reading)[0], scheme=RecoveryCodeScheme.VERBATIM
    )


def test_our_code_typed_never_matches_through_its_verbatim_reading(user, recovery_codes):
    # A 12-character string reads both ways; a user with only our codes has no verbatim digest.
    code = recovery_codes[0].replace("-", "")
    assert len(recovery.readings(code)) == 2
    stored = set(RecoveryCode.objects.filter(user=user).values_list("digest", flat=True))
    assert not set(crypto.digests(recovery.verbatim(code))) & stored
    assert recovery.verbatim(code) not in {recovery.normalize(c) for c in recovery_codes}


@pytest.mark.parametrize("imported", ["llllaaaa2222", "oooo-iiii-1234", "1111aaaa2222"])
def test_an_imported_code_is_read_verbatim_only(user, device, imported, settings):
    settings.TOTP_THROTTLE_FACTOR = 0
    store_verbatim(user, imported)
    # Crockford's look-alike reading must not widen an imported code.
    lookalike = imported.replace("l", "1").replace("o", "0").replace("i", "1")
    if lookalike != imported:
        assert services.verify_recovery_code(user, lookalike).outcome is Outcome.INVALID
    assert services.verify_recovery_code(user, imported.upper()).accepted


def test_an_imported_code_of_another_user_does_not_work(user, device, django_user_model):
    bob = django_user_model.objects.create_user("bob", password=PASSWORD)
    make_device(bob)
    store_verbatim(bob, "12345678")
    assert services.verify_recovery_code(user, "12345678").outcome is Outcome.INVALID


def test_a_wrong_code_costs_one_query_on_the_codes_table(user, recovery_codes):
    with CaptureQueriesContext(connection) as queries:
        services.verify_recovery_code(user, "k7m2-q9xw-4tpa")
    on_codes = [q["sql"] for q in queries if "recoverycode" in q["sql"].lower()]
    assert len(on_codes) == 1, on_codes


@pytest.mark.parametrize("raw", ["verbatim:abc", ":abc", "a" * 300, "\x00abc", "ab\u00a0c"])
def test_prefix_or_odd_input_cannot_forge_a_reading(user, device, raw):
    store_verbatim(user, "abc")
    assert services.verify_recovery_code(user, raw).outcome is not Outcome.ACCEPTED
