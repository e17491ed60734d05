"""Fixtures for the demo site's tests (run with ``--ds=demo_project.settings``).

The shared fixtures in ``tests/conftest.py`` (``user``, ``device``, ``code_for``,
``password_client``, ``verified_client``) apply here too.
"""

from __future__ import annotations

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
