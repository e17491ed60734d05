"""Settings for ``python -m bench``: every stack the benchmarks compare, in one process.

The middleware stacks differ per variant and are set per WSGI handler (see ``harness``); what
is here is shared by all of them, so the variants run in the same process, database and run.
TOTP_TEST_DB=postgres (exported by ``python -m tests.pg``) selects PostgreSQL; anything else
a SQLite file in the temporary directory, which ``bench.__main__`` removes at the end.
BENCH_SESSION_ENGINE swaps the session backend (default: database sessions, Django's default).
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

SECRET_KEY = "bench-only-secret-key-that-is-long-enough-for-hkdf-0123456789abcdef"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "testserver"]
USE_TZ = True
ROOT_URLCONF = "bench.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_totp",
]

# Shared by every variant; each appends its own second-factor middleware (bench/harness.py).
BASE_MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
MIDDLEWARE = [*BASE_MIDDLEWARE, "django_totp.middleware.TOTPMiddleware"]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [Path(__file__).resolve().parent / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# Persistent connections, as a production site configures them: the figures are the
# middleware's and the views', not the cost of opening a connection per request.
if os.environ.get("TOTP_TEST_DB") == "postgres":
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": "django_totp",
            "USER": os.environ.get("PGUSER", "postgres"),
            "HOST": os.environ["PGHOST"],
            "PORT": os.environ.get("PGPORT", "5432"),
            "CONN_MAX_AGE": None,
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(tempfile.gettempdir(), f"django_totp_bench_{os.getpid()}.db"),
            "CONN_MAX_AGE": None,
        }
    }

SESSION_ENGINE = os.environ.get("BENCH_SESSION_ENGINE", "django.contrib.sessions.backends.db")
# Only the set-up logs users in with a password; no timed request hashes one.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/totp/"
OTP_LOGIN_URL = "/otp/login/"
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"
TOTP_ISSUER = "Bench"

# Security records are created as in production, then dropped instead of written to stderr.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"null": {"class": "logging.NullHandler"}},
    "loggers": {"django_totp": {"handlers": ["null"], "level": "INFO", "propagate": False}},
}
