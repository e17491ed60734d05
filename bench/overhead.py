"""1. Per-request overhead: a login-required page under (a) plain Django, (b) django-otp,
(c) django-totp, each with a session its own library verified; plus anonymous requests.

Goals (issue 7): c/a >= 0.95, c >= b, and no extra query for anonymous requests.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial

from django.conf import settings

from django_totp import revocation, session
from django_totp.conf import conf

from . import accounts
from .harness import (
    STACKS,
    Browser,
    Config,
    Summary,
    count_queries,
    flat,
    goal,
    heading,
    interleave,
    rate,
    ratio_text,
    round_ratios,
    table,
    us,
    wsgi_handler,
)

TITLE = "1. Per-request overhead: a login-required page, full Django request handling"
LABELS = {
    "plain": "a  plain Django (auth + sessions)",
    "django-otp": "b  django-otp OTPMiddleware + otp_required",
    "django-totp": "c  django-totp TOTPMiddleware",
}
PAGES = {"plain": "/plain/", "django-otp": "/otp/", "django-totp": "/totp/"}
# Tables every stack reads for a signed-in user; anything else is the second factor's.
SHARED_TABLES = ('"django_session"', '"auth_user"')


def verified_browsers() -> dict[str, Browser]:
    """One signed-in browser per stack, verified by that stack's own views."""
    browsers = {}
    user = accounts.new_user("plain")
    browsers["plain"] = Browser(wsgi_handler("plain")).log_in(user.username, accounts.PASSWORD)

    user = accounts.new_user("otp")
    device = accounts.otp_device(user)
    otp = Browser(wsgi_handler("django-otp")).log_in(user.username, accounts.PASSWORD)
    otp.get("/otp/").expect(302, "/otp/login/")
    otp.get("/otp/login/?next=/otp/").expect(200)
    data = {"otp_device": device.persistent_id, "otp_token": accounts.otp_token(device)}
    otp.post("/otp/login/?next=/otp/", data).expect(302, "/otp/")
    browsers["django-otp"] = otp

    user = accounts.new_user("totp")
    device = accounts.totp_device(user)
    totp = Browser(wsgi_handler("django-totp")).log_in(user.username, accounts.PASSWORD)
    verify = totp.get("/totp/").expect(302, "/2fa/verify/").location
    totp.get(verify).expect(200)
    totp.post(verify, {"code": accounts.totp_code(device)}).expect(302, "/totp/")
    browsers["django-totp"] = totp

    for stack, browser in browsers.items():
        browser.get(PAGES[stack]).expect(200)  # the timed request is the page, not a redirect
    return browsers


def stale_record(browser: Browser) -> None:
    """Make the next request of ``browser`` a re-check: its record was confirmed long ago."""
    store = revocation.session_store()(browser.cookies[settings.SESSION_COOKIE_NAME])
    store[session.VERIFIED_KEY] = {**store[session.VERIFIED_KEY], "checked": 0.0}
    store.save()


def recheck_queries(browser: Browser) -> tuple[int, int, list[str]]:
    """One verified request at a re-check (R27): django-totp's queries, the session's, and the
    SQL of django-totp's."""
    stale_record(browser)
    _, sql = count_queries(partial(browser.get, PAGES["django-totp"]))
    own = [q for q in sql if '"django_totp_' in q]
    return len(own), len(sql) - len(own), own


def timed_get(browser: Browser, url: str) -> Callable[[], float]:
    def call() -> float:
        started = time.perf_counter()
        response = browser.get(url)
        took = time.perf_counter() - started
        response.expect(200)
        return took

    return call


def run(config: Config) -> None:
    heading(TITLE)
    signed_in = verified_browsers()
    anonymous = {stack: Browser(wsgi_handler(stack)) for stack in STACKS}
    per_round = config.size(150)

    queries = {s: count_queries(partial(signed_in[s].get, PAGES[s])) for s in STACKS}
    anon_queries = {s: count_queries(partial(anonymous[s].get, "/")) for s in STACKS}

    series = {f"auth {s}": timed_get(signed_in[s], PAGES[s]) for s in STACKS}
    series |= {f"anon {s}": timed_get(anonymous[s], "/") for s in STACKS}
    results = interleave(series, config.rounds, per_round)
    print(
        f"  {config.rounds} rounds x {per_round} requests per variant, "
        "one of each per turn in random order; "
        "req/s = 1 / median time per request; times in us"
    )

    for kind, title in (("auth", "signed in, verified"), ("anon", "anonymous, public page")):
        rows = []
        for stack in STACKS:
            summary = Summary.of(flat(results[f"{kind} {stack}"]))
            count, _ = (queries if kind == "auth" else anon_queries)[stack]
            rows.append(
                [
                    LABELS[stack],
                    rate(1 / summary.median),
                    us(summary.median),
                    f"({us(summary.q1)}-{us(summary.q3)})",
                    us(summary.p95),
                    str(count),
                ]
            )
        print(f"  -- {title} --")
        table(["variant", "req/s", "median", "IQR", "p95", "queries"], rows)

    ratios = {}
    for kind in ("auth", "anon"):
        plain, otp, totp = (results[f"{kind} {stack}"] for stack in STACKS)
        # Throughput ratios: the inverse of the time ratios, round by round.
        ratios[kind] = {
            "b/a": round_ratios(plain, otp),
            "c/a": round_ratios(plain, totp),
            "c/b": round_ratios(otp, totp),
        }
        pairs = "; ".join(f"{name} {ratio_text(values)}" for name, values in ratios[kind].items())
        print(f"  req/s ratios, {kind} (per round): {pairs}")

    for stack in ("django-otp", "django-totp"):
        _, sql = queries[stack]
        for statement in [q for q in sql if not any(name in q for name in SHARED_TABLES)]:
            print(f"  {stack} query per signed-in request: {statement[:160]}")

    auth = ratios["auth"]
    goal("c/a >= 0.95", Summary.of(auth["c/a"]).median >= 0.95)
    goal("c >= b", Summary.of(auth["c/b"]).median >= 1.0)
    extra = anon_queries["django-totp"][0] - anon_queries["plain"][0]
    goal(f"no extra query for anonymous requests (extra: {extra})", extra == 0)
    extra = queries["django-totp"][0] - queries["plain"][0]
    print(f"  (django-totp queries per signed-in request beyond plain Django: {extra})")
    # R27: within TOTP_RECHECK_SECONDS the record is trusted; after it, one indexed query.
    own, writes, sql = recheck_queries(signed_in["django-totp"])
    within = count_queries(partial(signed_in["django-totp"].get, PAGES["django-totp"]))[0]
    print(
        f"  django-totp queries per verified request: {within - queries['plain'][0]} within the"
        f" re-check interval ({conf.TOTP_RECHECK_SECONDS} s), {own} at each re-check"
        f" (and {writes - queries['plain'][0]} statements to save the session with the new"
        " check time)"
    )
    for statement in sql:
        print(f"  re-check query: {statement[:200]}")
    goal(
        "0 extra queries within the re-check interval, 1 at a re-check",
        within == queries["plain"][0] and own == 1,
    )
