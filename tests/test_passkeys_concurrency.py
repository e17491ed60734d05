"""W3, W8: one passkey sign-in submitted many times at once signs in once.

Twenty requests of one anonymous session (a double-click, a replaying proxy) each load the
session, find its sign-in challenge and submit the same signed assertion, in real threads with
a connection each: the second factor's row lock and conditional update (``ceremonies``) are
what lets one through. Runs on SQLite (a file database) and, under ``tests.pg``, on PostgreSQL.
"""

from __future__ import annotations

from collections import Counter

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from django_totp import passkeys, session
from django_totp.models import VerifiedSession
from django_totp.services import Outcome

from .authenticator import SoftAuthenticator
from .concurrency import at_once
from .test_passkeys import anonymous_request, passkeys_on, register_passkey  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)
SUBMISSIONS = 20


@pytest.mark.parametrize("counting", [True, False], ids=["counting", "passkey_without_counter"])
def test_one_sign_in_submitted_at_once_signs_in_exactly_once(user, counting):
    authenticator = SoftAuthenticator(counting=counting, transports=("internal",))
    register_passkey(user, authenticator)
    anonymous = anonymous_request()
    response = authenticator.get(passkeys.begin(anonymous))
    anonymous.session.save()
    key = anonymous.session.session_key

    def load() -> object:
        request = RequestFactory().post("/2fa/passkey/finish/")
        request.session = SessionStore(key)
        request.session.load()
        request.user = AnonymousUser()
        assert session.CHALLENGE_KEY in request.session  # every one sees the challenge
        return request

    outcomes = at_once(
        SUBMISSIONS, lambda request: passkeys.finish(request, response).result.outcome, load
    )
    counted = Counter(outcomes)
    print(f"\n{SUBMISSIONS} concurrent passkey sign-ins with one assertion: {dict(counted)}")
    assert counted == Counter({Outcome.ACCEPTED: 1, Outcome.REPLAYED: SUBMISSIONS - 1})
    assert VerifiedSession.objects.count() == 1
