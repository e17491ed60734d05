"""What we publish: the wheel ships the app (code, templates, migrations, translations,
py.typed) and nothing else, under the name django-totp-2fa; the sdist builds that wheel and
holds no tests (they need the demo, PostgreSQL, Redis and Chromium: run them from a checkout).

Runs in `make test`'s packaging pass (.venv, which has uv), not in the matrix cells.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    os.environ.get("TOTP_TEST_DB") == "postgres",
    reason="does not touch the database: runs in the SQLite pass only",
)

# What a checkout may hold besides the sources (venv, caches, build and test output).
NOT_SOURCE = ".git .venv .nox .pgtest build dist *.egg-info __pycache__ *.pyc .*cache .coverage"
NOT_SOURCE += " htmlcov node_modules staticfiles"


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is missing: `make venv` installs it (requirements/dev.txt)"
    return found


def run(*command: str, cwd: Path) -> str:
    result = subprocess.run(command, capture_output=True, text=True, cwd=cwd)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Build from a copy so that build/ and *.egg-info never land in the working tree; the
    # wheel is built from the sdist, as installers do.
    tmp = tmp_path_factory.mktemp("dist")
    source = tmp / "source"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(*NOT_SOURCE.split()))
    run(uv(), "build", "--quiet", "--out-dir", str(tmp / "dist"), str(source), cwd=tmp)
    return tmp / "dist"


@pytest.fixture(scope="module")
def wheel(dist: Path) -> Path:
    (found,) = dist.glob("django_totp_2fa-*.whl")
    return found


@pytest.fixture(scope="module")
def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


@pytest.fixture(scope="module")
def sdist_names(dist: Path) -> set[str]:
    (sdist,) = dist.glob("django_totp_2fa-*.tar.gz")
    with tarfile.open(sdist) as archive:
        # Without the top folder, django_totp_2fa-<version>/.
        return {name.partition("/")[2] for name in archive.getnames()}


def metadata(wheel: Path) -> dict[str, list[str]]:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        message = Parser().parsestr(archive.read(name).decode())
    return {key: message.get_all(key) or [] for key in set(message.keys())}


@pytest.mark.parametrize(
    "name",
    [
        "django_totp/templates/django_totp/verify.html",
        "django_totp/static/django_totp/recovery-codes.js",
        "django_totp/migrations/0001_initial.py",
        "django_totp/py.typed",
        # Django reads only the compiled catalogs; the sources come along for translators.
        *(
            f"django_totp/locale/{language}/LC_MESSAGES/django.{ext}"
            for language in ("de", "es", "fr", "it", "ja", "nl", "pl", "pt_BR")
            for ext in ("mo", "po")
        ),
    ],
)
def test_wheel_ships_templates_migrations_translations_and_py_typed(
    wheel_names: set[str], name: str
) -> None:
    assert name in wheel_names


def package_files() -> set[str]:
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "django_totp").rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and not path.name.startswith(".")
        and path.suffix != ".pyc"
    }


def test_wheel_ships_every_file_of_the_package(wheel_names: set[str]) -> None:
    assert package_files() - wheel_names == set()


def test_wheel_ships_no_tests_and_no_demo_project(wheel_names: set[str]) -> None:
    top_level = {name.split("/")[0] for name in wheel_names}
    assert {name for name in top_level if not name.startswith("django_totp")} == set()
    assert not any(name.startswith(("tests/", "demo_project/")) for name in wheel_names)


def test_the_sdist_holds_the_package_and_no_tests(sdist_names: set[str]) -> None:
    assert package_files() - sdist_names == set()
    assert {"setup.cfg", "pyproject.toml", "README.md", "LICENSE", "CHANGELOG.md"} <= sdist_names
    top_level = {name.split("/")[0] for name in sdist_names}
    assert not top_level & {"tests", "demo_project", "bench", "docs", "manage.py", "noxfile.py"}


def test_the_metadata_names_django_totp_2fa_and_what_is_tested(wheel: Path) -> None:
    meta = metadata(wheel)
    assert meta["Name"] == ["django-totp-2fa"]
    assert meta["Requires-Python"] == ["<3.14,>=3.11"]
    classifiers = set(meta["Classifier"])
    assert {c for c in classifiers if c.startswith("Framework :: Django ::")} == {
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Framework :: Django :: 6.1",
    }
    assert {c for c in classifiers if c.startswith("Programming Language :: Python :: 3.")} == {
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
    }


def test_installing_needs_no_template_pack_and_unit_tests_need_no_playwright(wheel: Path) -> None:
    requires = metadata(wheel)["Requires-Dist"]
    plain = [r for r in requires if "extra ==" not in r]
    test = [r for r in requires if 'extra == "test"' in r]
    browser = [r for r in requires if 'extra == "browser"' in r]
    assert any(r.startswith("django-crispy-forms") for r in plain)
    assert not any(r.startswith("crispy-bootstrap5") for r in plain)
    assert not any(r.startswith("playwright") for r in plain + test)
    assert any(r.startswith("playwright") for r in browser)


def test_the_wheel_installs_django_totp(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    run(uv(), "venv", "--quiet", "--python", sys.executable, str(venv), cwd=tmp_path)
    python = str(venv / "bin" / "python")
    run(uv(), "pip", "install", "--quiet", "--python", python, str(wheel), cwd=tmp_path)
    # From tmp_path, not the checkout: the import must come from the installed wheel.
    script = (
        "import importlib.metadata, django_totp.apps; "
        "print(django_totp.apps.__file__); "
        "print(importlib.metadata.version('django-totp-2fa'))"
    )
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "", "PYTHONPATH": ""}
    result = subprocess.run(
        [python, "-c", script],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    where, version = result.stdout.split()
    assert Path(where).is_relative_to(venv)
    assert version == "0.1.0.dev0"
