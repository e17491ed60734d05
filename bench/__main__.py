"""``python -m bench [--rounds N] [--scale X] [NAME ...]``: run the benchmarks and print figures.

Runs on SQLite, or on PostgreSQL under ``python -m tests.pg -- python -m bench``. A benchmark is a
module of this package with ``TITLE`` and ``run(config)``, listed in ``BENCHMARKS``.
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import os
import platform
import sys
import time
from importlib.metadata import version
from pathlib import Path

BENCHMARKS = ("overhead", "verification", "enrolment", "recovery", "webauthn")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def database_version() -> str:
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            return f"PostgreSQL {cursor.fetchone()[0]}"
        cursor.execute("SELECT sqlite_version()")
        return f"SQLite {cursor.fetchone()[0]} (file)"


def machine() -> str:
    from django.conf import settings

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    return "\n".join(
        [
            f"date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            f"machine: {os.cpu_count()} CPUs, {cpu_model()}; load average {load}",
            f"Python {platform.python_version()}, Django {version('django')}, "
            f"django-otp {version('django-otp')}, {database_version()}, "
            f"sessions: {settings.SESSION_ENGINE.rsplit('.', 1)[-1]}",
        ]
    )


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("names", nargs="*", metavar="NAME", help=f"of {', '.join(BENCHMARKS)}")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved rounds (20)")
    parser.add_argument("--scale", type=float, default=1.0, help="iterations per round x (1)")
    args = parser.parse_args(argv)
    if unknown := sorted(set(args.names) - set(BENCHMARKS)):
        parser.error(f"no benchmark {', '.join(unknown)}; there are {', '.join(BENCHMARKS)}")

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    from .harness import Config

    database = settings.DATABASES["default"]
    if connection.vendor == "sqlite" and os.path.exists(database["NAME"]):
        sys.exit(f"bench: {database['NAME']} already exists")
    try:
        call_command("migrate", verbosity=0)
        print(machine(), flush=True)
        config = Config(rounds=args.rounds, scale=args.scale)
        started = time.monotonic()
        for name in args.names or BENCHMARKS:
            importlib.import_module(f"bench.{name}").run(config)
            sys.stdout.flush()
        load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
        print(f"\n({time.monotonic() - started:.0f} s; load average at the end {load})")
    finally:
        connection.close()
        if connection.vendor == "sqlite":
            for suffix in ("", "-journal", "-wal", "-shm"):
                Path(f"{database['NAME']}{suffix}").unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
