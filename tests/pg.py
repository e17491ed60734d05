"""Run a command against a throw-away PostgreSQL cluster.

    python -m tests.pg -- pytest

initdb into a fresh temporary directory (trust auth, unix socket only, durability off), start
the server, run the command with PGHOST/PGPORT/PGUSER and TOTP_TEST_DB=postgres exported, then
stop the server and delete the directory whatever happens. Exits with the command's status.
PostgreSQL refuses to run as root, so as root the server runs as the ``postgres`` system user
(or a ``totptest`` system user created on first use).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

SUPERUSER = "postgres"
DATABASE = "django_totp"
INITDB_OPTIONS = ["--auth=trust", "--no-sync", "--encoding=UTF8", "--locale=C"]
SERVER_OPTIONS = "fsync=off synchronous_commit=off full_page_writes=off max_connections=100"


def find_bindir() -> Path:
    """The directory holding initdb, postgres and pg_isready; PostgreSQL 15 if there."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    found.sort(key=lambda path: "/15/" not in path)
    found += filter(None, [shutil.which("initdb")])
    if not found:
        sys.exit(
            "tests/pg.py: no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin "
            "or on PATH. Install them with `make postgres-bin` (Debian package postgresql-15)."
        )
    return Path(found[0]).parent


def server_user() -> pwd.struct_passwd | None:
    """The unprivileged account to run the server as, or None when we are not root."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "totptest"):
        try:
            return pwd.getpwnam(name)
        except KeyError:
            pass
    useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
    subprocess.run([*useradd, "totptest"], check=True)
    return pwd.getpwnam("totptest")


def free_port() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return str(s.getsockname()[1])


def run_with_cluster(command: list[str]) -> int:
    bindir, user = find_bindir(), server_user()
    tmp = Path(tempfile.mkdtemp(prefix="totp-pg-"))
    as_server: dict[str, Any] = {"cwd": tmp}  # subprocess arguments for the server binaries
    if user is not None:
        as_server |= {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
    server: subprocess.Popen[Any] | None = None
    try:
        if user is not None:
            os.chown(tmp, user.pw_uid, user.pw_gid)
        data, log = str(tmp / "data"), tmp / "postgres.log"
        # A unix socket path is limited to 107 bytes; fall back to loopback TCP beyond that.
        use_tcp = len(str(tmp / ".s.PGSQL.5432")) > 100
        host, port = ("127.0.0.1", free_port()) if use_tcp else (str(tmp), "5432")
        initdb = [f"{bindir}/initdb", "-D", data, "-U", SUPERUSER, *INITDB_OPTIONS]
        subprocess.run(initdb, check=True, stdout=subprocess.DEVNULL, **as_server)

        options = [*SERVER_OPTIONS.split(), f"port={port}"]
        options += [f"listen_addresses={host if use_tcp else ''}"]
        options += [f"unix_socket_directories={'' if use_tcp else tmp}"]
        postgres = [f"{bindir}/postgres", "-D", data, *(f"-c{option}" for option in options)]
        with open(log, "wb") as log_file:
            # A session of its own: the Ctrl-C meant for the command must not stop the server.
            server = subprocess.Popen(
                postgres, stdout=log_file, stderr=log_file, start_new_session=True, **as_server
            )
        connection = ["-h", host, "-p", port, "-U", SUPERUSER]
        wait_until_ready([f"{bindir}/pg_isready", "-q", *connection], server, log)
        subprocess.run([f"{bindir}/createdb", *connection, DATABASE], check=True)

        env = {**os.environ, "PGHOST": host, "PGPORT": port, "PGUSER": SUPERUSER}
        return run_command(command, {**env, "TOTP_TEST_DB": "postgres"})
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not skip this
        if server is not None:
            stop(server, signal.SIGINT)  # fast shutdown
        shutil.rmtree(tmp, ignore_errors=True)


def wait_until_ready(pg_isready: list[str], server: subprocess.Popen[Any], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"tests/pg.py: postgres exited early:\n{log.read_text()}")
        if subprocess.run(pg_isready).returncode == 0:
            return
        time.sleep(0.1)
    sys.exit(f"tests/pg.py: postgres not ready after 30 s:\n{log.read_text()}")


def run_command(command: list[str], env: dict[str, str]) -> int:
    try:
        process = subprocess.Popen(command, env=env)
    except FileNotFoundError:
        print(f"tests/pg.py: command not found: {command[0]}", file=sys.stderr)
        return 127
    try:
        code = process.wait()
    except KeyboardInterrupt:
        stop(process, None)  # the terminal's Ctrl-C reached it too: let it clean up
        raise
    except SystemExit:
        stop(process, signal.SIGTERM)
        raise
    return 128 - code if code < 0 else code  # killed by signal N: 128 + N, as shells do


def stop(process: subprocess.Popen[Any], sig: int | None) -> None:
    """Send ``sig`` (if any) and wait; SIGKILL if ``process`` is still there after 10 s."""
    if sig is not None and process.poll() is None:
        process.send_signal(sig)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def run_around(argv: list[str], module: str, run: Callable[[list[str]], int]) -> int:
    """``python -m MODULE -- COMMAND``: ``run(COMMAND)`` with its service, cleaned up on exit."""
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        sys.exit(f"usage: python -m {module} -- COMMAND [ARG...]")

    def terminate(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)  # so that a job cancelled with SIGTERM cleans up

    signal.signal(signal.SIGTERM, terminate)
    try:
        return run(command)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(run_around(sys.argv[1:], "tests.pg", run_with_cluster))
