"""4. Recovery code check: one accepted and one refused recovery code, against the cost of one
hash, and of one slow password hash (Django's default hasher, as a "slow hash" check would use).

Goal (issue 7): one check costs at most one slow hash. Also counted: HMAC computations per
check, which stay at one per configured key whatever the number of stored codes (R22).
"""

from __future__ import annotations

import hmac
import statistics
from collections.abc import Callable
from unittest import mock

from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.test import override_settings

from django_totp import crypto, recovery, services
from django_totp.models import TOTPAccount
from tests.conftest import owner_request

from . import accounts
from .harness import Config, Summary, flat, goal, heading, interleave, ms, table, timed

TITLE = "4. Recovery code check"
SLOW_HASH_SAMPLES = 5


def run(config: Config) -> None:
    heading(TITLE)
    user = accounts.new_user("recovery")
    accounts.totp_device(user)
    codes: list[str] = []

    def accepted() -> float:
        if not codes:
            codes.extend(services.regenerate_recovery_codes(owner_request(user)))
        code = codes.pop()
        return timed(lambda: services.verify_recovery_code(user, code))

    def refused() -> float:
        took = timed(lambda: services.verify_recovery_code(user, "zzzz-zzzz-zzzz"))
        # Untimed: clear the failure just counted, so that refusals never reach the lock.
        TOTPAccount.objects.filter(user=user).update(failure_count=0, last_failure_at=None)
        return took

    series: dict[str, Callable[[], float]] = {
        "verify_recovery_code, accepted": accepted,
        "verify_recovery_code, refused": refused,
        "crypto.digests(code) alone (keyed HMAC)": lambda: timed(
            lambda: crypto.digests("k7m2q9xw4tpa")
        ),
    }
    times = config.size(10)
    # Refused codes would otherwise back off: this measures the check, not the wait.
    with override_settings(TOTP_THROTTLE_FACTOR=0):
        results = interleave(series, config.rounds, times)
        with mock.patch("django_totp.crypto.hmac.new", wraps=hmac.new) as hashed:
            services.verify_recovery_code(user, "zzzz-zzzz-zzzz")
    hasher = PBKDF2PasswordHasher()
    encoded = hasher.encode("correct horse battery staple", hasher.salt())
    slow = [
        timed(lambda: hasher.verify("correct horse battery staple", encoded))
        for _ in range(SLOW_HASH_SAMPLES)
    ]
    print(
        f"  {config.rounds} rounds x {times} checks per variant, one of each per turn in random "
        f"order; ms; {len(crypto.digests('x'))} configured key(s); "
        f"slow hash: {SLOW_HASH_SAMPLES} calls of {type(hasher).__name__} "
        f"({hasher.iterations:,} iterations)"
    )
    rows = []
    for name in series:
        summary = Summary.of(flat(results[name]))
        rows.append([name, ms(summary.median), f"({ms(summary.q1)}-{ms(summary.q3)})"])
    rows.append(["one slow password hash (baseline)", ms(statistics.median(slow)), ""])
    table(["variant", "median", "IQR"], rows)
    print(f"  keyed hashes per refused check, 10 codes stored: {hashed.call_count}")
    worst = max(Summary.of(flat(results[name])).median for name in list(series)[:2])
    # One keyed hash per reading of the typed code (ours, and the verbatim one of imported
    # codes) and per configured key, however many codes are stored: never one per code.
    per_check = len(recovery.readings("zzzz-zzzz-zzzz")) * len(crypto.digests("x"))
    goal(
        f"one check costs at most one slow hash (check {ms(worst)} ms, slow hash "
        f"{ms(statistics.median(slow))} ms, {hashed.call_count} keyed hashes per check, "
        f"{per_check} expected: one per reading and key)",
        worst <= statistics.median(slow) and hashed.call_count == per_check,
    )
