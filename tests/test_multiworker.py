"""R11 across processes: the demo site under gunicorn, four workers, one PostgreSQL database.

Every request goes over a new connection with ``Connection: close``, so whichever idle worker
accepts first answers it; the access log says which one (pid) did. A code used through one
worker must be refused as a replay through every worker, and a lock set through one worker must
hold in all. The workers read tests/multiworker_settings.py, not tests/settings.py.
"""

from __future__ import annotations

import http.client
import itertools
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.db import connection
from django.utils.html import escape, strip_tags

from django_totp import oath
from django_totp.forms import ERROR_MESSAGES
from django_totp.models import TOTPDevice
from django_totp.services import Outcome

from .conftest import PASSWORD, make_device

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(
        connection.vendor != "postgresql",
        reason="needs PostgreSQL, which gunicorn's worker processes share: "
        "run under `python -m tests.pg -- pytest`",
    ),
    pytest.mark.django_db(transaction=True),
]

WORKERS = 4
# Per test. With four workers picked at random, about eight attempts usually reach them all.
MAX_ATTEMPTS = 60
MAX_SECONDS = 15
BOOT_SECONDS = 20
# The workers' TOTP_RECHECK_SECONDS: short, so a test can wait it out.
RECHECK_SECONDS = 2
# Staff resets raced by a thief's requests, in the reset test.
TRIALS = 8
ROOT = Path(__file__).resolve().parent.parent
# The pid of the worker, the X-Request-Id the test sent, the request line and the status.
ACCESS_LOG_FORMAT = "%(p)s %({x-request-id}i)s %(r)s %(s)s"
ACCESS_LINE = re.compile(r"^<(?P<pid>\d+)> (?P<id>\S+) .* (?P<status>\d{3})$")
LISTENING = re.compile(r"Listening at: http://127\.0\.0\.1:(\d+)")
BOOTED = re.compile(r"Booting worker with pid: (\d+)")

REPLAYED = escape(str(ERROR_MESSAGES[Outcome.REPLAYED]))
LOCKED = escape(str(ERROR_MESSAGES[Outcome.LOCKED]))
INVALID = escape(str(ERROR_MESSAGES[Outcome.INVALID]))


@dataclass(frozen=True)
class Answer:
    status: int
    location: str
    text: str
    request_id: str

    def __repr__(self) -> str:
        page = " ".join(strip_tags(self.text).split())
        return f"request {self.request_id}: {self.status} {self.location} {page[:600]!r}"


class Server:
    """A running gunicorn, reached over a fresh TCP connection per request."""

    def __init__(self, process: subprocess.Popen[bytes], logs: Path) -> None:
        self.process = process
        self.logs = logs
        self.port = 0
        self.workers: frozenset[int] = frozenset()
        self._ids = itertools.count(1)
        self._answered_by: dict[str, int] = {}

    def logged(self, name: str) -> str:
        path = self.logs / name
        return path.read_text(errors="replace") if path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(
            f"== {name} ==\n{self.logged(name)}" for name in ("error.log", "output.log")
        )

    def booted(self) -> list[int]:
        return [int(pid) for pid in BOOTED.findall(self.logged("error.log"))]

    def wait_until_ready(self) -> None:
        deadline = time.monotonic() + BOOT_SECONDS
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gunicorn exited with {self.process.returncode}:\n{self.all_logs()}")
            listening = LISTENING.search(self.logged("error.log"))
            if listening and len(self.booted()) >= WORKERS:
                self.port = int(listening.group(1))
                try:
                    if self.send("GET", "/", {}, None)[0].status == 200:
                        self.workers = frozenset(self.booted())
                        return
                except OSError:
                    pass
            time.sleep(0.1)
        pytest.fail(f"gunicorn did not answer within {BOOT_SECONDS} s:\n{self.all_logs()}")

    def send(
        self, method: str, path: str, headers: dict[str, str], body: str | None
    ) -> tuple[Answer, list[str]]:
        request_id = str(next(self._ids))
        headers = {**headers, "Connection": "close", "X-Request-Id": request_id}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            text = response.read().decode()
            cookies = response.msg.get_all("Set-Cookie") or []
            answer = Answer(response.status, response.getheader("Location", ""), text, request_id)
        finally:
            conn.close()
        # The workers log a server error's traceback to output.log (multiworker_settings).
        assert answer.status < 500, f"{answer}\n{self.all_logs()}"
        return answer, cookies

    def worker_of(self, answer: Answer) -> int:
        """The pid of the worker that answered; gunicorn logs it just after the response."""
        deadline = time.monotonic() + 5
        while answer.request_id not in self._answered_by:
            assert time.monotonic() < deadline, f"{answer.request_id} not in the access log"
            time.sleep(0.01)
            for line in self.logged("access.log").splitlines():
                if match := ACCESS_LINE.match(line):
                    self._answered_by[match["id"]] = int(match["pid"])
        pid = self._answered_by[answer.request_id]
        assert pid in self.workers, f"{pid} is not one of the workers {sorted(self.workers)}"
        return pid


class Browser:
    """One simulated browser: its own cookies, a new connection for every request."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, form: dict[str, str] | None = None) -> Answer:
        headers, body = {}, None
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        if form is not None:
            body = urlencode({**form, "csrfmiddlewaretoken": self.cookies["csrftoken"]})
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        answer, set_cookies = self.server.send(method, path, headers, body)
        for header in set_cookies:
            for name, morsel in SimpleCookie(header).items():
                if morsel.value and morsel["max-age"] != "0":
                    self.cookies[name] = morsel.value
                else:
                    self.cookies.pop(name, None)
        return answer

    def log_in(self, username: str) -> str:
        """Passes the password step; returns where the site then asks for the code."""
        assert self.request("GET", "/login/").status == 200
        answer = self.request("POST", "/login/", {"username": username, "password": PASSWORD})
        assert (answer.status, answer.location) == (302, "/account/"), answer
        answer = self.request("GET", "/account/")
        assert answer.status == 302 and answer.location.startswith("/2fa/verify/?next="), answer
        return answer.location


def current_code(device: TOTPDevice) -> tuple[int, str]:
    step = oath.time_step(time.time(), device.period)
    return step, oath.code_at_step(device.secret, step, digits=device.digits)


def wrong_code(device: TOTPDevice) -> str:
    step = oath.time_step(time.time(), device.period)
    near = {
        oath.code_at_step(device.secret, s, digits=device.digits) for s in range(step - 2, step + 3)
    }
    return next(str(d) * device.digits for d in range(10) if str(d) * device.digits not in near)


def attempts() -> Iterator[int]:
    deadline = time.monotonic() + MAX_SECONDS
    for attempt in range(1, MAX_ATTEMPTS + 1):
        if time.monotonic() > deadline:
            return
        yield attempt


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()  # the master stops its workers, then exits
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the master and its workers
        process.wait()


@pytest.fixture(scope="module")
def server(django_db_setup, tmp_path_factory) -> Iterator[Server]:
    """The demo under gunicorn on the test database, stopped before the database goes."""
    logs = tmp_path_factory.mktemp("gunicorn")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "tests.multiworker_settings",
        "TOTP_MULTIWORKER_DB": connection.settings_dict["NAME"],
        "TOTP_MULTIWORKER_RECHECK_SECONDS": str(RECHECK_SECONDS),
    }
    command = [
        *(sys.executable, "-m", "gunicorn", "demo_project.wsgi:application"),
        *("--workers", str(WORKERS), "--bind", "127.0.0.1:0", "--chdir", str(ROOT)),
        *("--access-logfile", str(logs / "access.log")),
        *("--access-logformat", ACCESS_LOG_FORMAT),
        *("--error-logfile", str(logs / "error.log"), "--graceful-timeout", "5"),
    ]
    with open(logs / "output.log", "wb") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
        )
    try:
        running = Server(process, logs)
        running.wait_until_ready()
        yield running
        # No worker died and was replaced along the way.
        assert sorted(running.booted()) == sorted(running.workers), running.all_logs()
    finally:
        stop(process)


def poll_while(thief: Browser, action: Callable[[], object], threads: int = 2) -> list[int]:
    """GET /account/ with the thief's cookies from ``threads`` threads while ``action`` runs."""
    done = threading.Event()
    statuses: list[int] = []

    def poll() -> None:
        copy = Browser(thief.server)
        copy.cookies = dict(thief.cookies)
        while not done.is_set():
            statuses.append(copy.request("GET", "/account/").status)

    pollers = [threading.Thread(target=poll) for _ in range(threads)]
    for poller in pollers:
        poller.start()
    try:
        action()
    finally:
        done.set()
        for poller in pollers:
            poller.join(timeout=30)
    return statuses


def spread(refused_by: Counter[int]) -> str:
    return ", ".join(f"{pid}: {count}" for pid, count in sorted(refused_by.items()))


def test_a_code_used_through_one_worker_is_refused_through_every_other(server, django_user_model):
    user = django_user_model.objects.create_user(username="replayed", password=PASSWORD)
    device = make_device(user)
    step, code = current_code(device)

    first = Browser(server)
    verify = first.log_in("replayed")
    used = first.request("POST", verify, {"code": code})
    assert (used.status, used.location) == (302, "/account/"), used
    assert first.request("GET", "/account/").status == 200
    accepted_by = server.worker_of(used)

    refused_by: Counter[int] = Counter()
    for _ in attempts():
        browser = Browser(server)
        answer = browser.request("POST", browser.log_in("replayed"), {"code": code})
        assert answer.status == 200 and REPLAYED in answer.text, answer
        refused_by[server.worker_of(answer)] += 1
        # Each refusal is a failure, counted in the same database row whichever worker
        # answered; set back through the ORM so that three replays do not lock the device
        # (TOTP_MAX_FAILURES = 3 in multiworker_settings, for the lock test).
        device.refresh_from_db()
        assert device.failure_count == 1
        TOTPDevice.objects.filter(pk=device.pk).update(failure_count=0, last_failure_at=None)
        if set(refused_by) == server.workers:
            break

    print(
        f"\nreplay: {refused_by.total()} refusals across {len(refused_by)} of {WORKERS} workers"
        f" ({spread(refused_by)}; accepted once by {accepted_by}), 0 accepted, 0 errors"
    )
    assert set(refused_by) >= server.workers - {accepted_by}
    assert set(refused_by) == server.workers, "the accepting worker never answered a replay"
    device.refresh_from_db()
    assert device.last_used_step == step


def test_a_lock_set_through_one_worker_holds_in_all(server, django_user_model):
    user = django_user_model.objects.create_user(username="locked", password=PASSWORD)
    device = make_device(user)

    browser = Browser(server)
    verify = browser.log_in("locked")
    wrong = wrong_code(device)
    failed_by = []
    for failure in range(1, 4):
        answer = browser.request("POST", verify, {"code": wrong})
        expected = LOCKED if failure == 3 else INVALID
        assert answer.status == 200 and expected in answer.text, answer
        failed_by.append(server.worker_of(answer))
    device.refresh_from_db()
    assert device.failure_count == 3

    refused_by: Counter[int] = Counter()
    for _ in attempts():
        other = Browser(server)
        answer = other.request("POST", other.log_in("locked"), {"code": current_code(device)[1]})
        assert answer.status == 200 and LOCKED in answer.text, answer
        refused_by[server.worker_of(answer)] += 1
        if set(refused_by) == server.workers:
            break

    print(
        f"\nlock: 3 failures through workers {failed_by}, then {refused_by.total()} correct codes"
        f" refused across {len(refused_by)} of {WORKERS} workers ({spread(refused_by)}),"
        " 0 accepted, 0 errors"
    )
    assert set(refused_by) == server.workers
    device.refresh_from_db()
    assert (device.failure_count, device.last_used_step) == (3, None)


def test_a_staff_reset_in_the_admin_signs_out_a_thief_polling_through_other_workers(
    server, django_user_model, redis_url
):
    # R27, the review's attack over HTTP (2 of 8 sessions survived): with cached_db sessions on
    # Redis, the thief's requests race the reset through other worker processes.
    staff = django_user_model.objects.create_user(
        username="staff", password=PASSWORD, is_staff=True, is_superuser=True
    )
    staff_device = make_device(staff)
    admin = Browser(server)
    answer = admin.request("POST", admin.log_in("staff"), {"code": current_code(staff_device)[1]})
    assert answer.status == 302, answer

    thieves = []
    for trial in range(TRIALS):
        victim = django_user_model.objects.create_user(username=f"victim{trial}", password=PASSWORD)
        device = make_device(victim)
        browser = Browser(server)
        answer = browser.request(
            "POST", browser.log_in(victim.username), {"code": current_code(device)[1]}
        )
        assert answer.status == 302, answer
        thief = Browser(server)
        thief.cookies = {"sessionid": browser.cookies["sessionid"]}
        assert thief.request("GET", "/account/").status == 200
        reset = f"/admin/django_totp/totpdevice/user/{victim.pk}/reset/"
        polled = poll_while(thief, partial(admin.request, "POST", reset, {"confirmed": "yes"}))
        assert not TOTPDevice.objects.filter(user=victim).exists()
        thieves.append((thief, polled))

    time.sleep(RECHECK_SECONDS + 1)
    alive = sum(thief.request("GET", "/account/").status == 200 for thief, _ in thieves)
    polls = sum(len(polled) for _, polled in thieves)
    print(f"\nreset over HTTP, cached_db on Redis: {polls} polls; {alive}/{TRIALS} thieves alive")
    assert alive == 0
