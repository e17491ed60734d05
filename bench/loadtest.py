"""``python -m bench.loadtest``: the demo under gunicorn (4 workers) on PostgreSQL, under load.

Run it through tests/pg.py, which starts and removes the database (``make loadtest`` does)::

    python -m tests.pg -- python -m bench.loadtest [--users 100] [--think 1.5] ...

Simulated users, each with its own cookies, on loopback only: register -> enrol (the secret is
read from the page's otpauth:// URI, codes are computed with pyotp) -> sign out -> sign in ->
verify -> browse. Meanwhile an attacker who knows the passwords of a few victim accounts (made by
this run, so no simulated user gets locked) signs in as them, replays the codes the victims used
and guesses others. Two phases on the same server: "paced" users who think between steps, then
"flat out" users who do not (the server's capacity). Every request and phase is bounded in time.

Prints throughput, latency per step, errors and what the attacker got, and exits 1 if any
must-be-0 figure is not 0. gunicorn is stopped whatever happens (Ctrl-C, SIGTERM, failure).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp

from .tally import Answer, Messages, Tally, classify, percentile

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = "bench.loadtest_settings"
BOOT_SECONDS = 30
REQUEST_TIMEOUT = 30.0
# Worker pid, status, time in the worker (microseconds), method and path without the query.
ACCESS_FORMAT = "%(p)s %(s)s %(D)s %(m)s %(U)s"
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")
CSRF_FIELD = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
OTPAUTH = re.compile(r'href="(otpauth://[^"]+)"')


class StepFailed(Exception):
    """A simulated user got an answer it did not expect; it is recorded, the user stops."""


# -- the server ------------------------------------------------------------------------------


class Server:
    """gunicorn running the demo, in a session of its own so that only we stop it."""

    def __init__(self, workers: int, logs: Path, real_hashing: bool) -> None:
        self.logs = logs
        self.workers = workers
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": SETTINGS}
        if real_hashing:
            env["LOADTEST_REAL_HASHING"] = "1"
        command = [
            *(sys.executable, "-m", "gunicorn", "demo_project.wsgi:application"),
            *("--workers", str(workers), "--bind", "127.0.0.1:0", "--chdir", str(ROOT)),
            *("--access-logfile", str(logs / "access.log"), "--access-logformat", ACCESS_FORMAT),
            *("--error-logfile", str(logs / "error.log"), "--graceful-timeout", "3"),
        ]
        with open(logs / "output.log", "wb") as output:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                command, cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
            )
        self.url = ""

    def logged(self, name: str) -> str:
        path = self.logs / name
        return path.read_text(errors="replace") if path.exists() else ""

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"gunicorn exited with {self.process.returncode}:\n{self.tail()}")
            listening = LISTENING.search(self.logged("error.log"))
            if listening and len(BOOTED.findall(self.logged("error.log"))) >= self.workers:
                self.url = f"http://127.0.0.1:{listening.group(1)}"
                try:
                    if httpx.get(f"{self.url}/", timeout=5).status_code == 200:
                        self.warm_up()
                        return
                except httpx.HTTPError:
                    pass
            time.sleep(0.1)
        raise SystemExit(f"gunicorn did not answer within {BOOT_SECONDS} s:\n{self.tail()}")

    def warm_up(self) -> None:
        """Untimed: each worker loads its templates and opens its connection on first use."""
        for _ in range(4 * self.workers):
            for path in ("/", "/login/", "/register/"):
                httpx.get(f"{self.url}{path}", timeout=REQUEST_TIMEOUT).raise_for_status()

    def access_log(self) -> list[list[str]]:
        return [line.split() for line in self.logged("access.log").splitlines() if line]

    def tail(self, lines: int = 30) -> str:
        text = self.logged("error.log") + self.logged("output.log")
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # the master stops its workers, then exits
        try:
            self.process.wait(timeout=6)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)  # the master and its workers
            self.process.wait()


# -- one authenticator app -------------------------------------------------------------------


@dataclass
class Authenticator:
    """What the user's phone knows: the secret from the otpauth:// URI, and the codes it showed."""

    secret: str
    digits: int = 6
    period: int = 30
    used: list[tuple[int, str]] = field(default_factory=list)

    @classmethod
    def from_page(cls, page: str) -> Authenticator:
        found = OTPAUTH.search(page)
        if found is None:
            raise ValueError("no otpauth:// link on the setup page")
        query = parse_qs(urlsplit(html.unescape(found.group(1))).query)
        return cls(
            secret=query["secret"][0],
            digits=int(query.get("digits", ["6"])[0]),
            period=int(query.get("period", ["30"])[0]),
        )

    def now(self) -> int:
        return int(time.time() // self.period)

    def code_at(self, step: int) -> str:
        return pyotp.HOTP(self.secret, digits=self.digits).at(step)

    def next_code(self) -> str:
        """A code the server accepts now: this step's, or the next one's when this one is used.

        (The server accepts one step either side of its time, so a second code in the same
        30 s is the next step's; a person would wait for the app to show it.)
        """
        step = max(self.now(), self.used[-1][0] + 1 if self.used else 0)
        if step > self.now() + 1:
            raise ValueError("no unused code in the window: too many codes in one step")
        code = self.code_at(step)
        self.used.append((step, code))
        return code

    def wrong_code(self) -> str:
        """A random well-formed code that no step within two of now would accept."""
        near = {self.code_at(step) for step in range(self.now() - 2, self.now() + 3)}
        while True:
            code = f"{secrets.randbelow(10**self.digits):0{self.digits}d}"
            if code not in near:
                return code


@dataclass
class Account:
    username: str
    password: str
    app: Authenticator


# -- one browser -----------------------------------------------------------------------------


class Visitor:
    """One browser: its own cookies, the CSRF token of the last form it saw, timed requests."""

    def __init__(self, base_url: str, tally: Tally, think: float, prefix: str = "") -> None:
        self.http = httpx.AsyncClient(
            base_url=base_url,
            follow_redirects=False,
            timeout=REQUEST_TIMEOUT,
            limits=httpx.Limits(max_connections=1),
        )
        self.tally = tally
        self.think_mean = think
        self.prefix = prefix
        self.csrf = ""

    async def close(self) -> None:
        await self.http.aclose()

    async def think(self) -> None:
        """A person reading the page or typing: uniform between 0 and twice the mean."""
        if self.think_mean > 0:
            await asyncio.sleep(self.think_mean * 2 * secrets.randbelow(1001) / 1000)

    async def send(
        self, step: str, method: str, url: str, data: dict[str, str] | None = None
    ) -> httpx.Response:
        """One timed request; an exception or a 5xx is an error."""
        name = f"{self.prefix}{step}"
        if data is not None:
            data = {**data, "csrfmiddlewaretoken": self.csrf}
        started = time.monotonic()
        try:
            response = await self.http.request(method, url, data=data)
        except httpx.HTTPError as error:
            self.tally.error(f"{name}: {error!r}")
            raise StepFailed(name) from error
        self.tally.latencies[name].append(time.monotonic() - started)
        if response.status_code >= 500:
            self.tally.error(f"{name}: {response.status_code}")
            raise StepFailed(name)
        if found := CSRF_FIELD.search(response.text):
            self.csrf = found.group(1)
        return response

    async def expect(
        self,
        step: str,
        method: str,
        url: str,
        data: dict[str, str] | None = None,
        *,
        status: int = 200,
        location: str = "",
        text: str = "",
    ) -> httpx.Response:
        """``send``, and an error unless the answer is the one a working site gives."""
        response = await self.send(step, method, url, data)
        got = response.headers.get("location", "")
        if (
            response.status_code != status
            or not got.startswith(location)
            or text not in response.text
        ):
            page = " ".join(re.sub(r"<[^>]+>", " ", response.text).split())[:200]
            self.tally.error(
                f"{self.prefix}{step}: expected {status} {location!r} {text!r}, "
                f"got {response.status_code} {got!r} {page!r}"
            )
            raise StepFailed(step)
        return response


async def sign_in(visitor: Visitor, username: str, password: str) -> str:
    """The password step; returns the verify URL the site then sends the user to."""
    await visitor.expect("GET /login/", "GET", "/login/")
    await visitor.think()
    credentials = {"username": username, "password": password}
    await visitor.expect("POST /login/", "POST", "/login/", credentials, status=302)
    answer = await visitor.expect(
        "GET /account/ (before the code)", "GET", "/account/", status=302, location="/2fa/verify/"
    )
    return answer.headers["location"]


# -- the simulated people --------------------------------------------------------------------


async def user_journey(
    base_url: str, tally: Tally, username: str, think: float, pages: int
) -> Account | None:
    """register -> enrol -> sign out -> sign in -> verify -> browse ``pages`` pages."""
    tally.users_started += 1
    visitor = Visitor(base_url, tally, think)
    password = f"load-{secrets.token_hex(8)}"
    try:
        await visitor.expect("GET /register/", "GET", "/register/")
        await visitor.think()
        form = {"username": username, "password1": password, "password2": password}
        await visitor.expect(
            "POST /register/", "POST", "/register/", form, status=302, location="/2fa/setup/"
        )
        await visitor.expect("GET /2fa/setup/ (start)", "GET", "/2fa/setup/")
        await visitor.think()
        await visitor.expect(
            "POST /2fa/setup/ (start)",
            *("POST", "/2fa/setup/", {"start": "1"}),
            status=302,
            location="/2fa/setup/",
        )
        page = await visitor.expect(
            "GET /2fa/setup/ (QR code)", "GET", "/2fa/setup/", text="otpauth://"
        )
        app = Authenticator.from_page(page.text)
        await visitor.think()
        # The first device comes with recovery codes, shown once, and a link on to the account.
        await visitor.expect(
            "POST /2fa/setup/ (first code)",
            *("POST", "/2fa/setup/", {"code": app.next_code()}),
            text='href="/account/"',
        )
        await visitor.expect("GET /account/", "GET", "/account/", text=username)
        await visitor.think()
        await visitor.expect("POST /logout/", "POST", "/logout/", {}, status=302, location="/")

        verify = await sign_in(visitor, username, password)
        await visitor.expect("GET /2fa/verify/", "GET", verify)
        await visitor.think()
        await visitor.expect(
            "POST /2fa/verify/",
            *("POST", verify, {"code": app.next_code()}),
            status=302,
            location="/account/",
        )
        for _ in range(pages):
            await visitor.think()
            await visitor.expect("GET /account/", "GET", "/account/", text="Verified this session")
            await visitor.expect("GET /", "GET", "/")
    except ValueError as error:
        tally.error(f"{username}: {error}")
        return None
    except StepFailed:
        return None  # already recorded
    finally:
        await visitor.close()
    tally.users_done += 1
    return Account(username, password, app)


async def attack(
    base_url: str,
    tally: Tally,
    victim: Account,
    messages: Messages,
    stop: asyncio.Event,
    attempts: int,
    pause: float,
) -> None:
    """Sign in as ``victim`` with the password, then replay its used codes and guess others.

    A new session every ten codes (signing in again resets nothing). At the end of each
    session, the account page must still send it to the verify page.
    """
    sent = 0
    while sent < attempts and not stop.is_set():
        attacker = Visitor(base_url, tally, think=0, prefix="attacker: ")
        try:
            verify = await sign_in(attacker, victim.username, victim.password)
            await attacker.expect("GET /2fa/verify/", "GET", verify)
            for _ in range(10):
                if sent >= attempts or stop.is_set():
                    break
                kind = "replay" if sent % 3 == 0 else "guess"
                used = victim.app.used[(sent // 3) % len(victim.app.used)][1]
                code = used if kind == "replay" else victim.app.wrong_code()
                answer = await attacker.send(
                    f"POST /2fa/verify/ ({kind})", "POST", verify, {"code": code}
                )
                sent += 1
                outcome = classify(
                    answer.status_code, answer.headers.get("location", ""), answer.text, messages
                )
                if outcome is None:
                    tally.error(f"attacker {kind}: unexpected {answer.status_code} answer")
                    break
                tally.attack(kind, outcome)
                if outcome is Answer.ACCEPTED:
                    break
                await asyncio.sleep(pause)
            final = await attacker.send("GET /account/ (after)", "GET", "/account/")
            if final.status_code == 200:
                tally.attacker_sessions_in += 1
            elif not final.headers.get("location", "").startswith("/2fa/verify/"):
                tally.error(f"attacker: /account/ answered {final.status_code}")
        except StepFailed:
            return  # recorded; the run fails
        finally:
            await attacker.close()


@dataclass(frozen=True)
class Plan:
    users: int
    think: float
    ramp: float
    victims: int
    pages: int
    attempts: int
    pause: float
    max_seconds: float


async def run_load(base_url: str, plan: Plan, messages: Messages, tally: Tally) -> list[Account]:
    """Victims first (they sign up like anyone), then everyone else with the attacker."""
    run = secrets.token_hex(3)

    victims = await asyncio.gather(
        *(
            user_journey(base_url, tally, f"victim{n}-{run}", 0, pages=0)
            for n in range(plan.victims)
        )
    )
    accounts = [victim for victim in victims if victim is not None]

    async def later(number: int) -> Account | None:
        await asyncio.sleep(plan.ramp * number / max(plan.users, 1))
        return await user_journey(base_url, tally, f"user{number}-{run}", plan.think, plan.pages)

    stop = asyncio.Event()
    attackers = [
        asyncio.create_task(
            attack(base_url, tally, victim, messages, stop, plan.attempts, plan.pause)
        )
        for victim in accounts
    ]
    await asyncio.gather(*(later(number) for number in range(plan.users)))
    stop.set()
    await asyncio.gather(*attackers)
    return accounts


# -- reporting -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    seconds: float  # wall time of the load
    cpu_seconds: float  # the load generator's own CPU time
    access: list[list[str]]  # gunicorn's access log lines for the load (ACCESS_FORMAT)


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        first, *rest = row
        cells = "".join(f"  {cell:>{width}}" for cell, width in zip(rest, widths[1:], strict=True))
        print(f"  {first.ljust(widths[0])}{cells}")


def latency_rows(samples: dict[str, list[float]]) -> list[list[str]]:
    rows = [["", "n", "p50", "p95", "p99", "max"]]
    for name, values in samples.items():
        figures = [percentile(values, p) * 1000 for p in (50, 95, 99, 100)]
        rows.append([name, str(len(values)), *(f"{value:.1f}" for value in figures)])
    return rows


def report(tally: Tally, plan: Plan, run: Run) -> None:
    requests = sum(len(values) for values in tally.latencies.values())
    print(
        f"\n{tally.users_done} of {tally.users_started} users finished "
        f"({plan.users} + {plan.victims} victims) in {run.seconds:.1f} s: {requests:,} requests, "
        f"{requests / run.seconds:,.1f} req/s, {tally.users_done / run.seconds:.2f} journeys/s"
    )
    workers = Counter(line[0] for line in run.access)
    spread = ", ".join(f"{count:,}" for _, count in sorted(workers.items()))
    print(f"requests per gunicorn worker: {spread}")
    print(
        f"load generator CPU: {run.cpu_seconds:.1f} s "
        f"({run.cpu_seconds / run.seconds:.0%} of one core) on {os.cpu_count()} CPUs"
    )

    print("\nlatency per step as the simulated browsers saw it (queueing included), ms:")
    print_table(latency_rows(tally.latencies))
    served: dict[str, list[float]] = {}
    for _, _, micros, method, path in run.access:
        served.setdefault(f"{method} {path}", []).append(int(micros) / 1e6)
    print("\ntime inside the gunicorn worker per URL (attacker included), ms:")
    by_path = sorted(served.items(), key=lambda item: item[0].split(" ", 1)[::-1])
    print_table(latency_rows(dict(by_path)))

    print("\nattacker (victims' passwords known; codes replayed or guessed):")
    for kind in ("replay", "guess"):
        answers = ", ".join(
            f"{answer.value} {tally.attacks[kind, answer]}"
            for answer in Answer
            if tally.attacks[kind, answer]
        )
        print(f"  {kind}: {tally.sent(kind)} sent; {answers or 'none'}")

    print("\nmust be 0:")
    for name, count in tally.must_be_zero().items():
        print(f"  {name}: {count}")
    for error in tally.errors[:10]:
        print(f"  error: {error}")


def check_database(tally: Tally, victims: list[Account]) -> None:
    """What the database says after the run: the attacker consumed none of the victims' steps."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from django_totp.models import TOTPDevice

    for victim in victims:
        device = TOTPDevice.objects.get(user__username=victim.username, confirmed=True)
        if device.last_used_step != victim.app.used[-1][0]:
            tally.error(f"{victim.username}: last used step {device.last_used_step}, not its own")
    confirmed = TOTPDevice.objects.filter(confirmed=True).count()
    users = get_user_model().objects.count()
    print(f"\ndatabase: {users} users, {confirmed} confirmed devices; victims' devices:", end=" ")
    print(
        ", ".join(
            f"{d.failure_count} failures{' (locked)' if d.is_locked else ''}"
            for d in TOTPDevice.objects.filter(user__username__in=[v.username for v in victims])
        )
    )
    connection.close()


def messages_of_the_site() -> Messages:
    from django.utils.html import escape

    from django_totp.forms import ERROR_MESSAGES, throttled_message
    from django_totp.services import Outcome

    marker = 10**6
    return Messages(
        replayed=escape(str(ERROR_MESSAGES[Outcome.REPLAYED])),
        invalid=escape(str(ERROR_MESSAGES[Outcome.INVALID])),
        locked=escape(str(ERROR_MESSAGES[Outcome.LOCKED])),
        throttled_prefix=escape(throttled_message(marker)).partition(str(marker))[0],
    )


def run_phase(server: Server, plan: Plan, messages: Messages) -> list[str]:
    """One load on the running server: report it, check the database, return what failed."""
    tally = Tally()
    time.sleep(0.5)  # the access log lines of what came before are written
    skip = len(server.access_log())
    started, cpu = time.monotonic(), time.process_time()
    try:
        victims = asyncio.run(
            asyncio.wait_for(run_load(server.url, plan, messages, tally), plan.max_seconds)
        )
    except TimeoutError:
        tally.error(f"the load did not finish within {plan.max_seconds:g} s")
        victims = []
    seconds, cpu = time.monotonic() - started, time.process_time() - cpu
    time.sleep(0.5)
    check_database(tally, victims)
    report(tally, plan, Run(seconds, cpu, server.access_log()[skip:]))
    return tally.failures()


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.loadtest",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=100, help="paced users (100)")
    parser.add_argument("--think", type=float, default=1.5, help="their mean think time, s (1.5)")
    parser.add_argument("--ramp", type=float, default=20, help="they start over N s (20)")
    parser.add_argument(
        "--flat-out-users",
        type=int,
        default=100,
        help="then users with no think time (100; 0: none)",
    )
    parser.add_argument("--victims", type=int, default=4, help="attacked accounts per phase (4)")
    parser.add_argument("--pages", type=int, default=3, help="pages browsed after verify (3)")
    parser.add_argument("--attempts", type=int, default=150, help="codes per victim (150)")
    parser.add_argument("--pause", type=float, default=0.25, help="attacker pause, s (0.25)")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn workers (4)")
    parser.add_argument("--max-seconds", type=float, default=180, help="limit per phase (180)")
    parser.add_argument(
        "--real-hashing", action="store_true", help="keep Django's PBKDF2 password hashing"
    )
    args = parser.parse_args(argv)
    if "PGHOST" not in os.environ:
        sys.exit("bench.loadtest: run it as `python -m tests.pg -- python -m bench.loadtest`")
    common = (args.victims, args.pages, args.attempts, args.pause, args.max_seconds)
    phases = [("paced", Plan(args.users, args.think, args.ramp, *common))]
    if args.flat_out_users:
        phases.append(("flat out", Plan(args.flat_out_users, 0, 0, *common)))

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(128 + signum)  # so that `finally` stops gunicorn

    signal.signal(signal.SIGTERM, terminate)

    os.environ["DJANGO_SETTINGS_MODULE"] = SETTINGS
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    call_command("migrate", verbosity=0)
    messages = messages_of_the_site()
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        database = f"PostgreSQL {cursor.fetchone()[0]}"
    connection.close()

    failures = []
    with tempfile.TemporaryDirectory(prefix="totp-loadtest-") as logs:
        server = Server(args.workers, Path(logs), args.real_hashing)
        try:
            server.wait_until_ready()
            hashing = "PBKDF2" if args.real_hashing else "MD5 (fast, see loadtest_settings)"
            print(
                f"demo under gunicorn, {args.workers} sync workers, {database}, {server.url}; "
                f"password hashing {hashing}",
                flush=True,
            )
            for name, plan in phases:
                print(
                    f"\n== {name}: {plan.users} users starting over {plan.ramp:g} s, "
                    f"think {plan.think:g} s mean; attacker on {plan.victims} victims, "
                    f"up to {plan.attempts} codes each ==",
                    flush=True,
                )
                failed = run_phase(server, plan, messages)
                failures += [f"{name}: {failure}" for failure in failed]
                print(f"\n{name}: {'FAIL: ' + '; '.join(failed) if failed else 'PASS'}")
                sys.stdout.flush()
        except KeyboardInterrupt:
            print("\ninterrupted: stopping gunicorn", file=sys.stderr)
            return 130
        finally:
            server.stop()
        if failures:
            print(f"\ngunicorn's log, last lines:\n{server.tail()}")
    print(f"\nRESULT: {'FAIL: ' + '; '.join(failures) if failures else 'PASS'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
