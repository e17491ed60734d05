"""Run a command against a throw-away Redis server.

    python -m tests.redis_server -- pytest

Starts Debian's ``redis-server`` on a free loopback port with no persistence, runs the command
with ``TOTP_TEST_REDIS_URL`` exported, then stops the server whatever happens. Exits with the
command's status. Composes with ``tests.pg``:

    python -m tests.pg -- python -m tests.redis_server -- pytest

Tests that need Redis (cached_db sessions on a real shared cache) skip without it.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.pg import free_port, run_around, run_command, stop


def wait_until_ready(port: str, server: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"tests/redis_server.py: redis-server exited early:\n{log.read_text()}")
        try:
            with socket.create_connection(("127.0.0.1", int(port)), timeout=1) as connection:
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
        except OSError:
            pass
        time.sleep(0.05)
    sys.exit(f"tests/redis_server.py: redis-server not ready after 30 s:\n{log.read_text()}")


def run_with_server(command: list[str]) -> int:
    binary = shutil.which("redis-server")
    if binary is None:
        sys.exit(
            "tests/redis_server.py: no redis-server on PATH. Install it with `make redis-bin` "
            "(Debian package redis-server)."
        )
    tmp = Path(tempfile.mkdtemp(prefix="totp-redis-"))
    server: subprocess.Popen[Any] | None = None
    try:
        port, log = free_port(), tmp / "redis.log"
        options = ["--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no"]
        options += ["--dir", str(tmp), "--protected-mode", "yes"]
        with open(log, "wb") as log_file:
            server = subprocess.Popen(
                [binary, *options], stdout=log_file, stderr=log_file, start_new_session=True
            )
        wait_until_ready(port, server, log)
        env = {**os.environ, "TOTP_TEST_REDIS_URL": f"redis://127.0.0.1:{port}/0"}
        return run_command(command, env)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if server is not None:
            stop(server, signal.SIGTERM)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(run_around(sys.argv[1:], "tests.redis_server", run_with_server))
