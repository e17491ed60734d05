"""The test matrix: every supported Django on every Python it supports, on SQLite.

`make test` runs every cell (with a throw-away Redis around each, as tests/redis_server.py
starts it), then the PostgreSQL, demo, browser and custom-user passes on the newest Django in
.venv, and the Wagtail pass (`nox -s wagtail`: tests/wagtail_site, in venvs of its own). One
cell by hand: `.venv/bin/nox -s "tests(python='3.12', django='6.0')"`; `nox -l` lists them.
Arguments after `--` go to pytest.

A missing interpreter skips its cells, except where CI is set: there it fails the run.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.reuse_existing_virtualenvs = True
nox.options.sessions = ["tests"]

# Django 6.x needs Python 3.12 or newer. Keep setup.cfg's classifiers and python_requires and
# README's "Supported versions" in step with this table.
MATRIX = {
    "5.2": ["3.11", "3.12", "3.13"],
    "6.0": ["3.12", "3.13"],
    "6.1": ["3.12", "3.13"],
}
NEWEST = ("3.13", "6.1")
CELLS = [(python, django) for django, pythons in MATRIX.items() for python in pythons]


@nox.session
@nox.parametrize(("python", "django"), CELLS)
def tests(session: nox.Session, django: str) -> None:
    session.install("-e", ".[test]", f"Django~={django}.0")
    # A temporary folder per cell: `make test` runs two cells at once. tests/test_packaging.py
    # builds with uv, in .venv: `make test` runs it once, beside the matrix.
    basetemp = f"--basetemp={session.create_tmp()}/pytest"
    pytest = ["pytest", "-p", "no:cacheprovider", basetemp, "--ignore=tests/test_packaging.py"]
    if (session.python, django) == NEWEST:
        # Coverage is measured once, on the newest cell.
        pytest += ["--cov=django_totp", "--cov-report=term"]
    # pyproject.toml turns DeprecationWarning and PendingDeprecationWarning into errors, and with
    # them Django's RemovedInDjango* warnings (tests/test_warnings.py checks that).
    session.run("python", "-m", "tests.redis_server", "--", *pytest, *session.posargs)


# The packages `totp_import` takes over from, installed for real: the tests make devices and
# backup codes with their own APIs. Django 5.2, which all of them support.
IMPORT_SOURCES = ("3.12", "5.2")


@nox.session(python=IMPORT_SOURCES[0])
def imports(session: nox.Session) -> None:
    session.install(
        "-e", ".[test]", "-r", "requirements/import-sources.txt", f"Django~={IMPORT_SOURCES[1]}.0"
    )
    tmp = session.create_tmp()
    pytest = ["pytest", "-p", "no:cacheprovider", f"--basetemp={tmp}/pytest"]
    coverage = ["--cov", "--cov-config=tests/imports/coverage.toml", "--cov-report=term"]
    session.run(
        *pytest,
        *coverage,
        "--ds=tests.imports.settings",
        "tests/imports",
        *session.posargs,
        env={"COVERAGE_FILE": f"{tmp}/.coverage"},
    )


# The Wagtail pass (`make wagtail`, part of `make test`): tests/wagtail_site, a site shaped like
# Wagtail's bakerydemo, on the newest Wagtail 7.x with the newest Django it supports (7.4 stops
# at Django 6.0: the versions of issue 13's bakerydemo), and on the newest Wagtail, which
# supports our newest Django. Keep docs/wagtail.md's "Tested with" in step.
# Each cell also has a tag, so that `make wagtail` can run the two at once (`nox -t wagtail-7.4`).
WAGTAIL = [("3.13", "6.0", "7.4"), ("3.13", "6.1", "8.0")]
WAGTAIL_CELLS = [nox.param(*cell, tags=[f"wagtail-{cell[2]}"]) for cell in WAGTAIL]


@nox.session
@nox.parametrize(("python", "django", "wagtail"), WAGTAIL_CELLS)
def wagtail(session: nox.Session, django: str, wagtail: str) -> None:
    session.install("-e", ".[test,wagtail]", f"Django~={django}.0", f"wagtail~={wagtail}.0")
    tmp = session.create_tmp()
    pytest = ["pytest", "-p", "no:cacheprovider", f"--basetemp={tmp}/pytest"]
    pytest += ["--ds=tests.wagtail_site.settings"]
    coverage = ["--cov", "--cov-config=tests/wagtail_site/coverage.toml", "--cov-report=term"]
    # A data file per cell: `make wagtail` runs the cells at once.
    env = {"COVERAGE_FILE": f"{tmp}/.coverage"}
    session.run(*pytest, *coverage, "tests/wagtail_site", *session.posargs, env=env)
