"""What every benchmark shares: WSGI handlers per stack, a browser, interleaved rounds, stats.

Requests go through ``django.core.handlers.wsgi.WSGIHandler``, the object gunicorn calls, so
each one passes Django's whole request handling (signals, every middleware, URL resolution,
the view, response middleware and ``close()``). Each variant gets a handler of its own, built
with its own ``MIDDLEWARE``; everything else (apps, URLs, database) is shared, so variants run
in the same process and alternate round by round, which is what cuts the noise of a shared
machine: a slow moment hits every variant of that round alike, and ratios are taken per round.
"""

from __future__ import annotations

import gc
import io
import random
import statistics
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from typing import Any
from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.db import connection
from django.test.utils import CaptureQueriesContext, override_settings

# The second factor each variant adds to settings.BASE_MIDDLEWARE.
STACKS: dict[str, list[str]] = {
    "plain": [],
    "django-otp": ["django_otp.middleware.OTPMiddleware"],
    "django-totp": ["django_totp.middleware.TOTPMiddleware"],
}


def wsgi_handler(stack: str) -> WSGIHandler:
    """A WSGI application whose middleware chain is the base stack plus ``stack``'s."""
    with override_settings(MIDDLEWARE=[*settings.BASE_MIDDLEWARE, *STACKS[stack]]):
        return WSGIHandler()  # the chain is built here, from the settings of the moment


@dataclass(frozen=True)
class Response:
    status: int
    location: str
    body: bytes

    def expect(self, status: int, location_prefix: str = "") -> Response:
        if self.status != status or not self.location.startswith(location_prefix):
            page = self.body[:300].decode(errors="replace")
            sys.exit(f"bench: expected {status} {location_prefix!r}, got {self!r}: {page}")
        return self

    def __repr__(self) -> str:
        return f"<{self.status} {self.location}>"


def _start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
    pass


@dataclass
class Browser:
    """One client with its own cookies, talking WSGI to ``handler`` in this process."""

    handler: WSGIHandler
    cookies: dict[str, str] = field(default_factory=dict)

    def request(self, method: str, url: str, data: Mapping[str, str] | None = None) -> Response:
        parts = urlsplit(url)
        body = urlencode(data).encode() if data is not None else b""
        environ = {
            "REQUEST_METHOD": method,
            "SCRIPT_NAME": "",
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "127.0.0.1",
            "HTTP_ACCEPT": "text/html,application/xhtml+xml",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(body),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": False,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        if data is not None:
            environ["CONTENT_TYPE"] = "application/x-www-form-urlencoded"
        if self.cookies:
            environ["HTTP_COOKIE"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.handler(environ, _start_response)
        try:
            content = b"".join(response)
        finally:
            response.close()  # what a WSGI server does: sends request_finished
        self._store(response.cookies)
        return Response(response.status_code, response.get("Location", ""), content)

    def _store(self, cookies: SimpleCookie) -> None:
        for name, morsel in cookies.items():
            if morsel.value and str(morsel["max-age"]) != "0":
                self.cookies[name] = morsel.value
            else:
                self.cookies.pop(name, None)

    def get(self, url: str) -> Response:
        return self.request("GET", url)

    def post(self, url: str, data: Mapping[str, str]) -> Response:
        """A form POST with the CSRF token a page would have put in it."""
        token = self.cookies.get(settings.CSRF_COOKIE_NAME, "")
        return self.request("POST", url, {**data, "csrfmiddlewaretoken": token})

    def log_in(self, username: str, password: str) -> Browser:
        """Django's LoginView, as a person would use it: the form, then the POST."""
        self.get("/login/").expect(200)
        self.post("/login/", {"username": username, "password": password}).expect(302)
        return self


def count_queries(call: Callable[[], object]) -> tuple[int, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        call()
    return len(queries), [query["sql"] for query in queries.captured_queries]


# -- measuring -------------------------------------------------------------------------------

Samples = list[float]


@dataclass(frozen=True)
class Config:
    """How long to measure: ``rounds`` interleaved rounds, sizes multiplied by ``scale``."""

    rounds: int = 20
    scale: float = 1.0

    def size(self, base: int) -> int:
        return max(1, round(base * self.scale))


def interleave(
    series: Mapping[str, Callable[[], float]], rounds: int, per_round: int, warmup: int = 1
) -> dict[str, list[Samples]]:
    """Time every series ``per_round`` times per round, one call of each per turn.

    The order within each turn is shuffled, so that a slow moment of the shared machine falls
    on every series alike and no series always follows the same one (the previous request
    leaves caches warm or cold). Each call returns its own duration, its set-up untimed. The
    first ``warmup`` rounds are dropped; samples are kept per round, so that ratios can be
    taken round by round.
    """
    names = list(series)
    shuffled = random.SystemRandom()
    results: dict[str, list[Samples]] = {name: [] for name in names}
    for number in range(warmup + rounds):
        gc.collect()
        samples: dict[str, Samples] = {name: [] for name in names}
        for _ in range(per_round):
            for name in shuffled.sample(names, len(names)):
                samples[name].append(series[name]())
        if number >= warmup:
            for name in names:
                results[name].append(samples[name])
    return results


def timed(call: Callable[[], object]) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


@dataclass(frozen=True)
class Summary:
    median: float
    q1: float
    q3: float
    p95: float
    low: float
    high: float
    n: int

    @classmethod
    def of(cls, values: list[float]) -> Summary:
        ordered = sorted(values)
        if len(ordered) == 1:
            only = ordered[0]
            return cls(only, only, only, only, only, only, 1)
        q1, _, q3 = statistics.quantiles(ordered, n=4, method="inclusive")
        p95 = statistics.quantiles(ordered, n=20, method="inclusive")[-1]
        return cls(statistics.median(ordered), q1, q3, p95, ordered[0], ordered[-1], len(ordered))


def flat(per_round: list[Samples]) -> list[float]:
    return [value for samples in per_round for value in samples]


def round_ratios(top: list[Samples], bottom: list[Samples]) -> list[float]:
    """The ratio of the two series' median times, round by round."""
    return [statistics.median(t) / statistics.median(b) for t, b in zip(top, bottom, strict=True)]


# -- printing --------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.0f}"


def rate(value: float) -> str:
    return f"{value:,.0f}"


def table(header: list[str], rows: list[list[str]]) -> None:
    """A plain-text table, first column left-aligned, the others right-aligned."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        cells = [
            str(cell).ljust(widths[i]) if i == 0 else str(cell).rjust(widths[i])
            for i, cell in enumerate(row)
        ]
        print("  " + "  ".join(cells).rstrip())


def ratio_text(ratios: list[float]) -> str:
    summary = Summary.of(ratios)
    return f"{summary.median:.3f} (IQR {summary.q1:.3f}-{summary.q3:.3f}, n={summary.n})"


def goal(text: str, met: bool) -> None:
    print(f"  goal {text}: {'met' if met else 'NOT MET'}")


def heading(title: str) -> None:
    print(f"\n== {title} [{connection.vendor}] ==")
