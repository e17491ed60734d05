"""The demo's settings: development defaults only when the environment gives none, and loudly."""

from __future__ import annotations

import subprocess

import pytest

from .conftest import demo_settings


def load(**environment: str) -> subprocess.CompletedProcess[str]:
    return demo_settings("print(s.DEBUG, s.SECRET_KEY)", **environment)


def test_out_of_the_box_it_runs_in_debug_with_a_loud_warning():
    result = load()
    assert result.returncode == 0, result.stderr
    debug, key = result.stdout.split()
    assert debug == "True" and key.startswith("django-insecure-")
    assert "WARNING" in result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr and "DJANGO_DEBUG" in result.stderr


def test_settings_from_the_environment_are_used_without_a_warning():
    result = load(DJANGO_DEBUG="0", DJANGO_SECRET_KEY="an-environment-key-" + "x" * 40)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "an-environment-key-" + "x" * 40]
    assert result.stderr == ""


@pytest.mark.parametrize("debug", ["0", "false", "off"])
def test_debug_off_without_a_secret_key_refuses_to_start(debug):
    result = load(DJANGO_DEBUG=debug)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and "DJANGO_SECRET_KEY" in result.stderr
    assert "django-insecure-" not in result.stdout


def test_debug_asked_for_with_the_development_key_still_warns_about_the_key():
    result = load(DJANGO_DEBUG="1")
    assert result.returncode == 0, result.stderr
    assert "DJANGO_SECRET_KEY" in result.stderr and "DJANGO_DEBUG" not in result.stderr
