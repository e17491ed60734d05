"""`manage.py check` on the Wagtail site: clean with docs/wagtail.md's recipe, and each line of
the recipe, when missing, reported."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.apps import apps
from django.core import checks
from django.core.management import call_command
from django.test import override_settings
from django.urls import clear_url_caches

from tests.wagtail_site import settings as site

pytestmark = pytest.mark.django_db


def our_messages() -> list[str]:
    return sorted(m.id for m in checks.run_checks() if (m.id or "").startswith("django_totp."))


def test_the_recipe_passes_every_check(capsys):
    call_command("check", "--fail-level", "WARNING")
    assert "System check identified no issues" in capsys.readouterr().out


def test_without_login_url_the_check_says_djangos_default_leads_to_the_catch_all(settings):
    settings.LOGIN_URL = "/accounts/login/"  # Django's default
    messages = [m for m in checks.run_checks() if m.id == "django_totp.W012"]
    assert len(messages) == 1 and "LOGIN_URL = '/accounts/login/'" in messages[0].msg


def test_without_a_redirect_url_the_check_says_djangos_default_leads_to_the_catch_all(settings):
    del settings.TOTP_REDIRECT_URL  # LOGIN_REDIRECT_URL, Django's default, then
    messages = [m for m in checks.run_checks() if m.id == "django_totp.W012"]
    assert len(messages) == 1 and "'/accounts/profile/'" in messages[0].msg


@pytest.fixture
def catch_all_first(settings):
    settings.ROOT_URLCONF = "tests.wagtail_site.urls_catch_all_first"
    clear_url_caches()
    yield
    clear_url_caches()


def test_the_packages_urls_behind_wagtails_catch_all_are_an_error(catch_all_first):
    assert set(our_messages()) == {"django_totp.E028"}


def templates_first_from(folder: Path) -> list[dict]:
    """The site's TEMPLATES, with ``folder`` searched before every app's templates."""
    engine = {**site.TEMPLATES[0], "APP_DIRS": False}
    loaders = [
        ("django.template.loaders.filesystem.Loader", [str(folder)]),
        "django.template.loaders.app_directories.Loader",
    ]
    engine["OPTIONS"] = {**engine["OPTIONS"], "loaders": loaders}
    return [engine]


def test_the_2fa_pages_without_wagtails_look_are_reported():
    # What listing the app after django_totp does: django_totp's own base.html is found first.
    core = Path(apps.get_app_config("django_totp").path, "templates")
    with override_settings(TEMPLATES=templates_first_from(core)):
        assert our_messages() == ["django_totp.W013"]


def test_a_sites_own_base_template_is_its_choice(tmp_path):
    (tmp_path / "django_totp").mkdir()
    (tmp_path / "django_totp" / "base.html").write_text("{% block totp_content %}{% endblock %}")
    with override_settings(TEMPLATES=templates_first_from(tmp_path)):
        assert our_messages() == []
