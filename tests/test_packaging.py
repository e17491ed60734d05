"""The wheel ships the app (code, templates, migrations, translations, py.typed), nothing else."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    os.environ.get("TOTP_TEST_DB") == "postgres",
    reason="does not touch the database: runs in the SQLite pass only",
)

# What a checkout may hold besides the sources (venv, caches, build and test output).
NOT_SOURCE = ".git .venv .pgtest build dist *.egg-info __pycache__ *.pyc .*cache .coverage htmlcov"
NOT_SOURCE += " node_modules staticfiles"


@pytest.fixture(scope="module")
def wheel_names(tmp_path_factory: pytest.TempPathFactory) -> set[str]:
    # Build from a copy so that build/ and *.egg-info never land in the working tree.
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE.split()))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    pip_wheel = ["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(tmp / "dist")]
    build = subprocess.run([*pip, *pip_wheel, str(source)], capture_output=True, text=True, cwd=tmp)
    assert build.returncode == 0, (
        "building the wheel failed (the venv needs setuptools>=70.1 or wheel: `make venv`):\n"
        + build.stdout
        + build.stderr
    )
    (wheel,) = (tmp / "dist").glob("django_totp-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.mark.parametrize(
    "name",
    [
        "django_totp/templates/django_totp/verify.html",
        "django_totp/static/django_totp/recovery-codes.js",
        "django_totp/migrations/0001_initial.py",
        "django_totp/py.typed",
        # Django reads only the compiled catalogs; the sources come along for translators.
        "django_totp/locale/de/LC_MESSAGES/django.mo",
        "django_totp/locale/de/LC_MESSAGES/django.po",
        "django_totp/locale/es/LC_MESSAGES/django.mo",
        "django_totp/locale/es/LC_MESSAGES/django.po",
    ],
)
def test_wheel_ships_templates_migrations_translations_and_py_typed(
    wheel_names: set[str], name: str
) -> None:
    assert name in wheel_names


def test_wheel_ships_every_file_of_the_package(wheel_names: set[str]) -> None:
    package = ROOT / "django_totp"
    expected = {
        path.relative_to(ROOT).as_posix()
        for path in package.rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not path.name.startswith(".")
        and path.suffix != ".pyc"
    }
    assert expected - wheel_names == set()


def test_wheel_ships_no_tests_and_no_demo_project(wheel_names: set[str]) -> None:
    top_level = {name.split("/")[0] for name in wheel_names}
    assert {name for name in top_level if not name.startswith("django_totp")} == set()
    assert not any(name.startswith(("tests/", "demo_project/")) for name in wheel_names)
