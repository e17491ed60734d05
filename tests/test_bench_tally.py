"""The load test's verdict (bench/tally.py): an accepted replay or guess must fail the run."""

from __future__ import annotations

from bench.tally import Answer, Messages, Tally, classify

MESSAGES = Messages(
    replayed="already been used",
    invalid="is not right",
    locked="is locked",
    throttled_prefix="Try again in ",
)


def test_load_test_passes_on_refusals_and_fails_on_an_accepted_replayed_code():
    page = "<p>{}</p>".format
    assert classify(200, "", page("That code has already been used."), MESSAGES) is Answer.REPLAYED
    assert classify(200, "", page("That code is not right."), MESSAGES) is Answer.INVALID
    assert classify(200, "", page("Try again in 4 seconds."), MESSAGES) is Answer.THROTTLED
    assert classify(200, "", page("Two-factor is locked."), MESSAGES) is Answer.LOCKED
    # Signed out (pending stage over) is no acceptance, and neither is an unexplained page.
    assert classify(302, "/login/?next=/account/", "", MESSAGES) is None
    assert classify(200, "", page("Enter your code"), MESSAGES) is None

    tally = Tally()
    tally.attack("replay", Answer.REPLAYED)
    tally.attack("guess", Answer.THROTTLED)
    assert tally.failures() == []

    tally.attack("replay", classify(302, "/account/", "", MESSAGES))
    assert tally.failures() == ["replays accepted: 1"]
    assert Tally().failures() == ["no replay was sent", "no guess was sent"]
