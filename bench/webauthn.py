"""5. Security key check: one accepted and one refused assertion through the service, against
py_webauthn's own check of the same assertion.

Goal (issue 14): an assertion check well under 10 ms server-side. The responses come from the
test suite's software authenticator (a real P-256 key), made untimed before each call.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable

from django.test import override_settings

from django_totp import ceremonies, webauthn
from django_totp.models import WebAuthnCredential
from tests.authenticator import ORIGIN, RP_ID, SoftAuthenticator
from tests.conftest import owner_request

from . import accounts
from .harness import Config, Summary, flat, goal, heading, interleave, ms, table, timed

TITLE = "5. Security key check"
SETTINGS = {
    "TOTP_WEBAUTHN": True,
    "TOTP_WEBAUTHN_RP_ID": RP_ID,
    "TOTP_WEBAUTHN_ORIGINS": [ORIGIN],
}


def run(config: Config) -> None:
    heading(TITLE)
    with override_settings(**SETTINGS):
        _run(config)


def _run(config: Config) -> None:
    user = accounts.new_user("webauthn")
    key = SoftAuthenticator()
    registering = owner_request(user)
    options = ceremonies.begin_registration(registering)
    assert ceremonies.finish_registration(registering, key.create(options), "Bench key").accepted
    credential = WebAuthnCredential.objects.get(user=user)
    rp = webauthn.relying_party()

    def submission(origin: str = ORIGIN) -> Callable[[], float]:
        def call() -> float:
            request = owner_request(user, None)
            answer = key.get(ceremonies.begin_authentication(request) or "", origin=origin)
            return timed(lambda: ceremonies.verify_assertion(request, answer))

        return call

    def library_alone() -> float:
        request = owner_request(user, None)
        options = ceremonies.begin_authentication(request) or ""
        challenge = json.loads(options)["challenge"]
        raw = base64.urlsafe_b64decode(challenge + "=" * (-len(challenge) % 4))
        parsed = webauthn.parse(key.get(options), webauthn.ASSERTION_FIELDS)
        public_key = bytes(credential.public_key)
        return timed(lambda: webauthn.verify_assertion(rp, parsed, raw, public_key))

    series: dict[str, Callable[[], float]] = {
        "verify_assertion, accepted": submission(),
        "verify_assertion, refused (another origin)": submission("https://evil.example"),
        "py_webauthn's check alone": library_alone,
    }
    times = config.size(10)
    results = interleave(series, config.rounds, times)
    print(
        f"  {config.rounds} rounds x {times} checks per variant, one of each per turn in random "
        "order; ms; the accepted check includes the row lock, the counter update, the log line "
        "and the signal"
    )
    rows = []
    for name in series:
        summary = Summary.of(flat(results[name]))
        rows.append([name, ms(summary.median), f"({ms(summary.q1)}-{ms(summary.q3)})"])
    table(["variant", "median", "IQR"], rows)
    accepted = Summary.of(flat(results["verify_assertion, accepted"]))
    goal(f"an assertion check under 10 ms (p95 {ms(accepted.p95)} ms)", accepted.p95 < 0.010)
