"""The load test's bookkeeping, apart from any network code: what an answer to a code counts as,
the figures, and which of them must be 0. ``tests/test_bench_tally.py`` holds it to that.
"""

from __future__ import annotations

import enum
import math
from collections import Counter, defaultdict
from dataclasses import dataclass, field


class Answer(enum.StrEnum):
    """What the verify page made of a submitted code."""

    ACCEPTED = "accepted"
    REPLAYED = "refused: replayed"
    INVALID = "refused: invalid"
    THROTTLED = "refused: throttled"
    LOCKED = "refused: locked"


@dataclass(frozen=True)
class Messages:
    """The (HTML-escaped) texts the verify page shows for each refusal."""

    replayed: str
    invalid: str
    locked: str
    throttled_prefix: str


def classify(status: int, location: str, text: str, messages: Messages) -> Answer | None:
    """The answer to a code POSTed to the verify page; ``None`` when it is none of them.

    Any redirect other than back to the login page counts as accepted: the verify view only
    redirects onwards once a code was accepted.
    """
    if status in (301, 302, 303, 307, 308) and not location.startswith("/login/"):
        return Answer.ACCEPTED
    if status != 200:
        return None
    for answer, message in (
        (Answer.REPLAYED, messages.replayed),
        (Answer.INVALID, messages.invalid),
        (Answer.LOCKED, messages.locked),
        (Answer.THROTTLED, messages.throttled_prefix),
    ):
        if message in text:
            return answer
    return None


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0-100) of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


@dataclass
class Tally:
    """Everything the load test counts."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    # (what the attacker sent: "replay" or "guess", the answer) -> count
    attacks: Counter[tuple[str, Answer]] = field(default_factory=Counter)
    users_started: int = 0
    users_done: int = 0
    # Attacker sessions that reached a page only a verified session sees.
    attacker_sessions_in: int = 0

    def error(self, text: str) -> None:
        self.errors.append(text)

    def attack(self, kind: str, answer: Answer) -> None:
        self.attacks[kind, answer] += 1

    def accepted(self, kind: str) -> int:
        return self.attacks[kind, Answer.ACCEPTED]

    def sent(self, kind: str) -> int:
        return sum(count for (sent, _), count in self.attacks.items() if sent == kind)

    def must_be_zero(self) -> dict[str, int]:
        return {
            "errors": len(self.errors),
            "users who did not finish": self.users_started - self.users_done,
            "replays accepted": self.accepted("replay"),
            "guesses accepted": self.accepted("guess"),
            "attacker sessions let in": self.attacker_sessions_in,
        }

    def failures(self) -> list[str]:
        """The must-be-0 figures that are not 0; the load test fails when there are any.

        An attacker that sent nothing would leave "accepted" at 0 for no reason: that fails too.
        """
        failed = [f"{name}: {count}" for name, count in self.must_be_zero().items() if count]
        failed += [f"no {kind} was sent" for kind in ("replay", "guess") if not self.sent(kind)]
        return failed
