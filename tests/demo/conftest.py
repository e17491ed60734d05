"""Fixtures for the demo site's tests (run with ``--ds=demo_project.settings``).

The shared fixtures in ``tests/conftest.py`` (``user``, ``device``, ``code_for``,
``password_client``, ``verified_client``) apply here too.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.utils import translation


@pytest.fixture(autouse=True)
def fast_password_hasher(settings):
    """The demo keeps Django's slow default hasher; the tests do not need it."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def demo_settings_only(settings):
    if settings.ROOT_URLCONF != "demo_project.urls":
        pytest.skip("run with --ds=demo_project.settings")


@pytest.fixture(autouse=True)
def keep_language():
    """The demo's LocaleMiddleware leaves each request's language active: undo that per test."""
    with translation.override(translation.get_language()):
        yield


ROOT = Path(__file__).resolve().parents[2]


def demo_settings(show: str, **environment: str) -> subprocess.CompletedProcess[str]:
    """``demo_project.settings`` imported in a fresh process, as ``make demo`` starts it, with
    only ``environment`` of the demo's own variables set; ``show`` prints what to look at."""
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k != "DEMO_PORT"
    }
    return subprocess.run(
        [sys.executable, "-c", f"import demo_project.settings as s; {show}"],
        cwd=ROOT,
        env={**clean, **environment},
        capture_output=True,
        text=True,
        check=False,
    )
