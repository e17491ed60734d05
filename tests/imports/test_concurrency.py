"""Concurrent imports, and an import while the user enrols, with real threads (R36).

On SQLite (a file database) and, under ``tests.pg``, on PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django_otp.plugins.otp_static.models import StaticDevice
from django_otp.plugins.otp_totp.models import TOTPDevice as OTPDevice

from django_totp import imports, services
from django_totp.imports import service
from django_totp.models import ImportedRow, RecoveryCode, TOTPAccount, TOTPDevice

from ..concurrency import at_once
from ..conftest import owner_request

pytestmark = pytest.mark.django_db(transaction=True)
RUNS = 8


def together(tasks: list[Callable[[], object]]) -> list[object]:
    """Each task in a thread of its own, released together; an exception as its repr."""
    waiting = list(tasks)
    return at_once(len(tasks), lambda task: task(), waiting.pop)


def escaped(results: list[object]) -> list[str]:
    return [result for result in results if isinstance(result, str)]


def test_runs_at_once_import_each_row_exactly_once(user):
    # An account row exists already (as after a failed sign-in): creating it cannot serialize.
    TOTPAccount.objects.create(user=user)
    OTPDevice.objects.create(user=user, name="Phone", confirmed=True)
    backup = StaticDevice.objects.create(user=user, name="backup")
    for token in ("aaaa2222", "bbbb3333"):
        backup.token_set.create(token=token)
    rows = imports.read("django-otp")[user.pk]

    def run() -> object:
        return service.import_user(user, rows, source="django-otp")

    results = together([run] * RUNS)
    assert not escaped(results)
    assert TOTPDevice.objects.count() == 1 and RecoveryCode.objects.count() == 2
    assert ImportedRow.objects.count() == 3
    reasons = sorted(d.reason for result in results for d in result if d.kind == "totp")
    assert reasons.count(imports.Reason.IMPORTED) == 1


def test_an_import_racing_the_users_own_enrolment_neither_fails_nor_deadlocks(user, code_for):
    OTPDevice.objects.create(user=user, name="old phone", confirmed=True)
    rows = imports.read("django-otp")[user.pk]
    pending = services.start_setup(owner_request(user))

    def enrol() -> object:
        return services.confirm_device(pending, code_for(pending))

    def run() -> object:
        return service.import_user(user, rows, source="django-otp")

    results = together([enrol, run])
    assert not escaped(results)
    confirmed = TOTPDevice.objects.filter(user=user, confirmed=True)
    imported = ImportedRow.objects.exclude(device=None).values("device_id")
    # Either the import came first (the user then added a second device of their own, as
    # anyone may) or the enrolment did (the import then refused: already_enrolled).
    assert confirmed.exclude(pk__in=imported).count() == 1
    assert confirmed.count() in (1, 2)
