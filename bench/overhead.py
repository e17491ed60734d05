"""1. Per-request overhead: a login-required page under (a) plain Django, (b) django-otp,
(c) django-totp, each with a session its own library verified; plus anonymous requests.

Goals (issue 7): c/a >= 0.95, c >= b, and no extra query for anonymous requests.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from . import accounts
from .harness import (
    STACKS,
    Browser,
    Config,
    Samples,
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
    timed,
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


def block(browser: Browser, url: str, requests: int) -> Callable[[], Samples]:
    """One sample per round: requests per second over ``requests`` GETs of ``url``."""

    def run() -> Samples:
        def loop() -> None:
            for _ in range(requests):
                browser.get(url).expect(200)

        return [requests / timed(loop)]

    return run


def run(config: Config) -> None:
    heading(TITLE)
    signed_in = verified_browsers()
    anonymous = {stack: Browser(wsgi_handler(stack)) for stack in STACKS}
    requests = config.size(300)

    queries = {s: count_queries(partial(signed_in[s].get, PAGES[s])) for s in STACKS}
    anon_queries = {s: count_queries(partial(anonymous[s].get, "/")) for s in STACKS}

    series = {f"auth {s}": block(signed_in[s], PAGES[s], requests) for s in STACKS}
    series |= {f"anon {s}": block(anonymous[s], "/", requests) for s in STACKS}
    results = interleave(series, config.rounds)
    print(
        f"  {config.rounds} rounds x {requests} requests per variant, variants alternating "
        "within each round; req/s per round, median (IQR) [min-max]"
    )

    for kind, title in (("auth", "signed in, verified"), ("anon", "anonymous, public page")):
        rows = []
        for stack in STACKS:
            summary = Summary.of(flat(results[f"{kind} {stack}"]))
            count, _ = (queries if kind == "auth" else anon_queries)[stack]
            rows.append(
                [
                    LABELS[stack],
                    rate(summary.median),
                    f"({rate(summary.q1)}-{rate(summary.q3)})",
                    f"[{rate(summary.low)}-{rate(summary.high)}]",
                    f"{1e6 / summary.median:.0f}",
                    str(count),
                ]
            )
        print(f"  -- {title} --")
        table(["variant", "req/s", "IQR", "min-max", "us/req", "queries"], rows)

    ratios = {}
    for kind in ("auth", "anon"):
        plain, otp, totp = (results[f"{kind} {stack}"] for stack in STACKS)
        ratios[kind] = {
            "b/a": round_ratios(otp, plain),
            "c/a": round_ratios(totp, plain),
            "c/b": round_ratios(totp, otp),
        }
        pairs = "; ".join(f"{name} {ratio_text(values)}" for name, values in ratios[kind].items())
        print(f"  ratios, {kind} (per round): {pairs}")

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
