"""The demo site on the load test's throw-away PostgreSQL (``python -m bench.loadtest``).

gunicorn's workers and the load test's own process (migrations, final checks) read these. As in
tests/multiworker_settings.py, tests/pg.py exports PGHOST/PGPORT/PGUSER.
"""

from __future__ import annotations

import os

from demo_project.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("LOADTEST_DB", "django_totp"),
        "USER": os.environ.get("PGUSER", "postgres"),
        "HOST": os.environ["PGHOST"],
        "PORT": os.environ.get("PGPORT", "5432"),
        # As a production site runs: one connection per worker, kept between requests.
        "CONN_MAX_AGE": 60,
        "CONN_HEALTH_CHECKS": True,
    }
}

# Django's PBKDF2 costs about 0.4 s of CPU per password on this 2-core machine, which would
# make registration and sign-in figures a measure of password hashing. --real-hashing keeps it.
if os.environ.get("LOADTEST_REAL_HASHING") != "1":
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

# The demo's back-off (1, 2, 4, 8 s...) with a lower cap than its 20, so that within the run
# the attacker's victims reach the lock and the lock is seen to hold across the workers.
TOTP_MAX_FAILURES = 5
