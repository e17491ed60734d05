"""2. Verification: one accepted and one refused code, as a service call and as the full POST,
against django-otp on the same database.

Before each timed attempt (untimed) the device's last used step and failures are cleared, so
every success and every failure takes the full path, never the cheap "throttled" refusal; and
each accepted POST comes from a fresh password-only session, as it does when a person signs in.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

import django_otp

from django_totp import services

from . import accounts
from .harness import (
    Browser,
    Config,
    Summary,
    count_queries,
    flat,
    heading,
    interleave,
    ms,
    ratio_text,
    round_ratios,
    table,
    timed,
    wsgi_handler,
)

TITLE = "2. Verification: one accepted and one refused code"


Measure = Callable[[Callable[[], object]], float]


def check(ok: bool, what: str) -> None:
    if not ok:
        raise SystemExit(f"bench: {what}")


def queries(call: Callable[[], object]) -> float:
    """A ``Measure`` that counts the SQL statements instead of timing."""
    return float(count_queries(call)[0])


def measured(measure: Measure, call: Callable[[], Any]) -> tuple[float, Any]:
    box: list[Any] = []
    figure = measure(lambda: box.append(call()))
    return figure, box[0]


def run(config: Config) -> None:
    heading(TITLE)
    totp_user = accounts.new_user("verify-totp")
    totp_device = accounts.totp_device(totp_user)
    otp_user = accounts.new_user("verify-otp")
    otp_device = accounts.otp_device(otp_user)
    totp_handler, otp_handler = wsgi_handler("django-totp"), wsgi_handler("django-otp")

    # -- service calls: each resets its device (untimed), then measures one attempt --
    def totp_service(code: Callable[[], str], accepted: bool, measure: Measure) -> float:
        accounts.totp_fresh(totp_device)
        value = code()
        figure, result = measured(measure, lambda: services.verify_code(totp_user, value))
        check(result.accepted is accepted, f"verify_code gave {result.outcome}")
        return figure

    def otp_match(token: Callable[[], str], accepted: bool, measure: Measure) -> float:
        accounts.otp_fresh(otp_device)
        value = token()
        figure, found = measured(measure, lambda: django_otp.match_token(otp_user, value))
        check((found is not None) is accepted, f"match_token gave {found}")
        return figure

    def otp_method(token: Callable[[], str], accepted: bool, measure: Measure) -> float:
        accounts.otp_fresh(otp_device)
        otp_device.refresh_from_db()
        value = token()
        figure, verified = measured(measure, lambda: otp_device.verify_token(value))
        check(verified is accepted, f"verify_token gave {verified}")
        return figure

    # -- full POSTs: an accepted code comes from a fresh password-only session --
    totp_refused = Browser(totp_handler).log_in(totp_user.username, accounts.PASSWORD)
    otp_refused = Browser(otp_handler).log_in(otp_user.username, accounts.PASSWORD)
    otp_form = "/otp/login/?next=/otp/"

    def totp_post(accepted: bool, measure: Measure) -> float:
        accounts.totp_fresh(totp_device)
        if accepted:
            browser = Browser(totp_handler).log_in(totp_user.username, accounts.PASSWORD)
            code = accounts.totp_code(totp_device)
        else:
            browser, code = totp_refused, accounts.totp_wrong_code(totp_device)
        browser.get("/2fa/verify/").expect(200)
        figure, response = measured(measure, lambda: browser.post("/2fa/verify/", {"code": code}))
        response.expect(302) if accepted else response.expect(200)
        return figure

    def otp_post(accepted: bool, measure: Measure) -> float:
        accounts.otp_fresh(otp_device)
        if accepted:
            browser = Browser(otp_handler).log_in(otp_user.username, accounts.PASSWORD)
            token = accounts.otp_token(otp_device)
        else:
            browser, token = otp_refused, accounts.otp_wrong_token(otp_device)
        browser.get(otp_form).expect(200)
        data = {"otp_device": otp_device.persistent_id, "otp_token": token}
        figure, response = measured(measure, lambda: browser.post(otp_form, data))
        response.expect(302, "/otp/") if accepted else response.expect(200)
        return figure

    right_totp = partial(accounts.totp_code, totp_device)
    wrong_totp = partial(accounts.totp_wrong_code, totp_device)
    right_otp = partial(accounts.otp_token, otp_device)
    wrong_otp = partial(accounts.otp_wrong_token, otp_device)
    attempts = config.size(10)
    rows = {
        "service, accepted": {
            "django-totp services.verify_code": partial(totp_service, right_totp, True),
            "django-otp match_token": partial(otp_match, right_otp, True),
            "django-otp TOTPDevice.verify_token": partial(otp_method, right_otp, True),
        },
        "service, refused": {
            "django-totp services.verify_code": partial(totp_service, wrong_totp, False),
            "django-otp match_token": partial(otp_match, wrong_otp, False),
            "django-otp TOTPDevice.verify_token": partial(otp_method, wrong_otp, False),
        },
        "full POST, accepted (302)": {
            "django-totp POST /2fa/verify/": partial(totp_post, True),
            "django-otp LoginView POST (OTPTokenForm)": partial(otp_post, True),
        },
        "full POST, refused (200, form error)": {
            "django-totp POST /2fa/verify/": partial(totp_post, False),
            "django-otp LoginView POST (OTPTokenForm)": partial(otp_post, False),
        },
    }
    series = {
        f"{group}: {name}": partial(attempt, timed)
        for group, variants in rows.items()
        for name, attempt in variants.items()
    }
    results = interleave(series, config.rounds, attempts)
    print(
        f"  {config.rounds} rounds x {attempts} attempts per variant, "
        "one of each per turn in random order; "
        "ms per attempt; queries: statements CaptureQueriesContext sees in one attempt"
    )
    for group, variants in rows.items():
        print(f"  -- {group} --")
        names = list(variants)
        table_rows = []
        for name in names:
            summary = Summary.of(flat(results[f"{group}: {name}"]))
            table_rows.append(
                [
                    name,
                    ms(summary.median),
                    f"({ms(summary.q1)}-{ms(summary.q3)})",
                    ms(summary.p95),
                    f"[{ms(summary.low)}-{ms(summary.high)}]",
                    f"{variants[name](queries):.0f}",
                ]
            )
        table(["variant", "median", "IQR", "p95", "min-max", "queries"], table_rows)
        ours, baseline = results[f"{group}: {names[0]}"], results[f"{group}: {names[1]}"]
        ratios = ratio_text(round_ratios(ours, baseline))
        print(f"  django-totp / django-otp time (per round): {ratios}")
