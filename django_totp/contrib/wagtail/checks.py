"""The check of this app; its ID and message live in django_totp.checks' table with the rest."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.apps import apps
from django.core import checks
from django.template.loader import get_template

from django_totp.checks import MESSAGES


def check_wagtail_look(**kwargs: Any) -> list[checks.CheckMessage]:
    """The 2FA pages extend Wagtail's admin (or the site's own base template), not the core's."""
    # Django's template backend gives the file a template came from (not in django-stubs).
    origin = str(
        getattr(getattr(get_template("django_totp/base.html"), "origin", None), "name", "")
    )
    core = Path(apps.get_app_config("django_totp").path, "templates", "django_totp", "base.html")
    if Path(origin).resolve() != core.resolve():
        return []  # this app's template, or the site's own in its template DIRS
    message, hint = MESSAGES["W013"]
    return [checks.Warning(message.format(origin=origin), hint=hint, id="django_totp.W013")]
