"""The demo with django_totp's pages on a Bootstrap 3 site (``tests/browser/test_looks.py``).

crispy-forms renders with the bootstrap3 pack (``crispy-bootstrap3``), and the 2FA pages sit in
``bootstrap3/templates/django_totp/base.html``, which loads Bootstrap 3.4.1 (from the npm
registry, ``npm pack bootstrap@3``, unchanged, MIT: ``bootstrap3/static/bootstrap3/LICENSE``)
and then ``django_totp/totp.css``. The demo's own pages keep their Bootstrap 5 layout.
"""

from __future__ import annotations

from pathlib import Path

from .settings import *  # noqa: F403
from .settings import INSTALLED_APPS, STATICFILES_DIRS, TEMPLATES

SITE = Path(__file__).resolve().parent / "bootstrap3"

INSTALLED_APPS = [
    "crispy_bootstrap3" if app == "crispy_bootstrap5" else app for app in INSTALLED_APPS
]
CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap3"
CRISPY_TEMPLATE_PACK = "bootstrap3"
TEMPLATES = [{**TEMPLATES[0], "DIRS": [SITE / "templates", *TEMPLATES[0]["DIRS"]]}]
STATICFILES_DIRS = [SITE / "static", *STATICFILES_DIRS]
