"""Real threads, released together, one database connection each: for concurrency tests.

Runs on SQLite (a file database) and, under ``tests.pg``, on PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

from django.db import connections

Prepared = TypeVar("Prepared")


def at_once(
    count: int, act: Callable[[Prepared], object], prepare: Callable[[], Prepared]
) -> list[object]:
    """What ``act`` returned in each of ``count`` threads, all released at one barrier.

    Each thread first calls ``prepare`` (loading its own request, say), so that only ``act``
    races. An exception escaping either is returned as its ``repr``: a 500, for the caller.
    """
    barrier = threading.Barrier(count)
    results: list[object] = []
    lock = threading.Lock()

    def run() -> None:
        try:
            prepared = prepare()
            barrier.wait()
            result = act(prepared)
        except Exception as error:
            result = repr(error)
        finally:
            connections.close_all()
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results
