"""W3, R10: one assertion submitted many times at once is accepted once.

Twenty requests of one session (a double-click, a replaying proxy, a stolen cookie racing the
user) each load the session, find its challenge and submit the same signed assertion, in real
threads with a connection each. Only the row lock and the conditional update of the counter
and challenge stand between them. Runs on SQLite (a file database) and, under ``tests.pg``, on
PostgreSQL.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from django_totp import ceremonies, session, signals
from django_totp.models import WebAuthnCredential
from django_totp.services import Outcome

from .authenticator import SoftAuthenticator
from .concurrency import at_once
from .conftest import owner_request
from .test_webauthn import register, webauthn_on  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
SUBMISSIONS = 20


def request_of(user, session_key: str):
    """A request of the stored session ``session_key``, loaded afresh as a request loads it."""
    request = RequestFactory().post("/2fa/verify/")
    request.session = SessionStore(session_key)
    request.user = user
    return request


@pytest.mark.parametrize("counting", [True, False], ids=["counting", "passkey_without_counter"])
def test_one_assertion_submitted_at_once_is_accepted_exactly_once(user, counting, receive):
    cloned = receive(signals.credential_cloned)
    authenticator = SoftAuthenticator(counting=counting)
    assert register(owner_request(user), authenticator).accepted
    pending = owner_request(user, None)
    options = ceremonies.begin_authentication(pending)
    assert options is not None
    pending.session.save()
    key = pending.session.session_key
    response = authenticator.get(options)

    def load() -> object:
        request = request_of(user, key)
        request.session.load()
        assert session.CHALLENGE_KEY in request.session  # every one sees the challenge
        return request

    outcomes = at_once(
        SUBMISSIONS, lambda request: ceremonies.verify_assertion(request, response).outcome, load
    )
    counted = Counter(outcomes)
    print(f"\n{SUBMISSIONS} concurrent submissions of one assertion: {dict(counted)}")
    assert counted == Counter({Outcome.ACCEPTED: 1, Outcome.REPLAYED: SUBMISSIONS - 1})
    assert WebAuthnCredential.objects.get(user=user).sign_count == authenticator.counter
    assert not cloned  # a replay of the same assertion is no clone alarm
