"""The demo site as tests/browser and ``make screenshots`` serve it, in a process of its own.

Everything else is the demo's own settings. The server reads the path of its throw-away SQLite
database from TOTP_BROWSER_DB (``tests/browser/server.py`` sets it).
"""

from __future__ import annotations

import os

from demo_project.settings import *  # noqa: F403

DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": os.environ["TOTP_BROWSER_DB"],
    }
}

# Each test registers and signs in; Django's default hasher would add about a second a test.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
