"""The demo site in a process of its own: gunicorn on a loopback port, a throw-away database.

A separate process rather than pytest-django's ``live_server`` thread: Playwright's sync API
runs an asyncio event loop in the test's thread, so Django's ORM used from that thread raises
``SynchronousOnlyOperation`` unless ``DJANGO_ALLOW_ASYNC_UNSAFE`` switches the check off for the
whole process. The browser tests need no database access of their own: they see the site only
as a person does. So the site runs as it would in production, and the test process never
touches its database.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = "tests.browser.settings"
BOOT_SECONDS = 30
# Superusers for the admin's tests, one a viewport (each enrols its own app on first sign-in).
STAFF = ("staff-phone", "staff-desktop")
STAFF_PASSWORD = "staff horse battery staple"
CREATE_STAFF = """
import os
from django.contrib.auth import get_user_model
for name in os.environ["TOTP_BROWSER_STAFF"].split():
    get_user_model().objects.create_superuser(name, "", os.environ["TOTP_BROWSER_PASSWORD"])
"""
LISTENING = re.compile(r"Listening at: (http://127\.0\.0\.1:\d+)")


@dataclass(frozen=True)
class DemoServer:
    url: str
    log: Path
    env: dict[str, str]

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        """``manage.py`` on the demo's database, as its operator runs it; what it printed."""
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env={**self.env, **(env or {})},
            capture_output=True,
            text=True,
            check=True,
        ).stdout


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (loopback only)
            return response.status == 200
    except OSError:
        return False


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)  # its own session: the master and its worker
        process.wait()


@contextmanager
def demo_server(
    workdir: Path, settings: str = SETTINGS, port: int = 0, **extra_env: str
) -> Iterator[DemoServer]:
    """Migrate a new SQLite database in ``workdir`` and serve the demo on it until exit.

    ``port`` 0 lets the system choose; ``extra_env`` goes to the server's environment.
    """
    env = {
        **os.environ,
        **extra_env,
        "DJANGO_SETTINGS_MODULE": settings,
        "TOTP_BROWSER_DB": str(workdir / "db.sqlite3"),
        "PYTHONPATH": str(ROOT),
    }
    log = workdir / "server.log"
    with open(log, "wb") as output:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "--verbosity", "0"],
            cwd=ROOT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            check=True,
        )
        subprocess.run(
            [sys.executable, "manage.py", "shell", "--no-imports", "-c", CREATE_STAFF],
            cwd=ROOT,
            env={
                **env,
                "TOTP_BROWSER_STAFF": " ".join(STAFF),
                "TOTP_BROWSER_PASSWORD": STAFF_PASSWORD,
            },
            stdout=output,
            stderr=subprocess.STDOUT,
            check=True,
        )
        # Port 0: the system picks a free port and gunicorn logs which, so no port can clash
        # (a WebAuthn origin must be known before the server starts: see free_port).
        # One worker with threads, as Chromium loads a page's assets over parallel connections.
        command = [
            *(sys.executable, "-m", "gunicorn", "tests.browser.wsgi:application"),
            *("--bind", f"127.0.0.1:{port}", "--workers", "1", "--threads", "4"),
            *("--access-logfile", "-", "--error-logfile", "-", "--graceful-timeout", "5"),
        ]
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=output, start_new_session=True
        )
    try:
        deadline = time.monotonic() + BOOT_SECONDS
        while True:
            listening = LISTENING.search(log.read_text(errors="replace"))
            if listening and _answers(listening.group(1) + "/"):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the demo server did not start:\n{log.read_text()}")
            time.sleep(0.1)
        yield DemoServer(url=listening.group(1), log=log, env=env)
    finally:
        _stop(process)


def free_port() -> int:
    """A loopback port free now, for a server whose settings must name its origin."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
