"""The demo with django_totp's own ``base.html`` instead of the demo's: as on a site that does
not override it. The apps' templates are searched before the demo's, so only that template
changes (no app has the demo's others)."""

from __future__ import annotations

from .settings import *  # noqa: F403
from .settings import TEMPLATES

TEMPLATES = [
    {
        **TEMPLATES[0],
        "APP_DIRS": False,
        "OPTIONS": {
            **TEMPLATES[0]["OPTIONS"],
            "loaders": [
                "django.template.loaders.app_directories.Loader",
                "django.template.loaders.filesystem.Loader",
            ],
        },
    }
]
