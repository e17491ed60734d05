"""The demo site on the test suite's PostgreSQL database, for tests/test_multiworker.py (R11).

gunicorn runs the demo with these settings in processes of its own, so nothing the test sets with
``override_settings`` reaches them: everything they need is fixed here. The test passes the name
of pytest-django's test database in TOTP_MULTIWORKER_DB; tests/pg.py exports PGHOST/PGPORT/PGUSER.
"""

from __future__ import annotations

import os

from demo_project.settings import *  # noqa: F403
from tests.settings import PASSWORD_HASHERS, SECRET_KEY  # noqa: F401

# SECURITY: the same SECRET_KEY as tests/settings.py, because secrets at rest are encrypted
# with keys derived from it: devices created in the test process must decrypt in the workers.

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ["TOTP_MULTIWORKER_DB"],
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ["PGHOST"],
        "PORT": os.environ.get("PGPORT", "5432"),
        # A new connection per request: no worker can answer from a connection's state, and the
        # test database can be flushed and dropped as soon as the workers are idle.
        "CONN_MAX_AGE": 0,
    }
}

# No back-off, so that every refused replay is reported as a replay rather than "try again in
# N seconds"; a low cap, so that the lock can be set over HTTP with three wrong codes.
TOTP_THROTTLE_FACTOR = 0
TOTP_MAX_FAILURES = 3

# Sessions in cached_db on the throw-away Redis of tests/redis_server.py, when the suite runs
# under it (make test does): the engine whose cache the review refilled during a reset (R27).
if os.environ.get("TOTP_TEST_REDIS_URL"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["TOTP_TEST_REDIS_URL"],
        }
    }
    SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# Short, so the test can wait out the interval after which a revoked session must be gone.
TOTP_RECHECK_SECONDS = int(os.environ["TOTP_MULTIWORKER_RECHECK_SECONDS"])

# A server error's traceback on the workers' output, which a failing test prints.
LOGGING = {
    **LOGGING,  # noqa: F405
    "loggers": {
        **LOGGING["loggers"],  # noqa: F405
        "django.request": {"handlers": ["console"], "level": "ERROR", "propagate": False},
    },
}
