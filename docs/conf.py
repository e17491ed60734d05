"""Sphinx configuration for django-totp's documentation (``make docs``).

The pages are Markdown (MyST), like the README and ``security.md``; the API reference comes from
the package's docstrings through autodoc, which needs Django set up first.
"""

from __future__ import annotations

import sys
from pathlib import Path

import django
from django.conf import settings

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# Just enough of a site for autodoc to import every module of the package (the DRF module
# imports DRF's token model). No database is touched.
settings.configure(
    SECRET_KEY="docs-only-secret-key-that-is-long-enough-for-hkdf-0123456789",
    INSTALLED_APPS=[
        "django.contrib.admin",
        "django.contrib.auth",
        "django.contrib.contenttypes",
        "django.contrib.sessions",
        "django.contrib.messages",
        "rest_framework",
        "rest_framework.authtoken",
        "django_totp",
    ],
    DEFAULT_AUTO_FIELD="django.db.models.BigAutoField",
    USE_TZ=True,
)
django.setup()

project = "django-totp"
author = "django-totp contributors"
copyright = "django-totp contributors"  # noqa: A001 (Sphinx's name)

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
]
source_suffix = {".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "screenshots"]

# Every reference must resolve (make docs runs with -W -n). Without network access there is no
# intersphinx inventory for Python, Django or DRF, so references into them are left as text.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(django|rest_framework|collections\.abc|datetime|enum|typing|_?contextvars)\..*"),
    # The same, as annotations name them under `from __future__ import annotations`.
    (
        r"py:class",
        r"HttpRequest|HttpResponse|Request|APIView|AbstractBaseUser|AnonymousUser|SimpleLazyObject|QuerySet",
    ),
    # Type aliases (``models.Device``: an app or a key; ``session.DeviceRef``: kind and id) are
    # documented as data, which a class reference cannot name.
    (r"py:class", r"Device|DeviceRef"),
    # Type variables (``_Row``, ``...T``) are not documented objects.
    (r"py:class", r"django_totp\.\w+\.(\w+T|_\w+)"),
]

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_default_options = {"members": True, "member-order": "bysource"}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True


def resolve_short_names(app, env, node, contnode):  # type: ignore[no-untyped-def]
    """Resolve a bare class name from an annotation (``TOTPDevice``) to the one documented class.

    Annotations imported under ``TYPE_CHECKING`` reach autodoc as bare names; a name that
    matches exactly one documented object of this package is linked to it, any other still warns.
    """
    if node.get("refdomain") != "py" or "." in node["reftarget"]:
        return None
    domain = env.get_domain("py")
    suffix = "." + node["reftarget"]
    matches = [name for name in domain.objects if name.endswith(suffix)]
    if len(matches) != 1:
        return None
    return domain.resolve_xref(
        env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode
    )


def setup(app):  # type: ignore[no-untyped-def]
    app.connect("missing-reference", resolve_short_names)


html_theme = "furo"
html_title = "django-totp"
html_static_path: list[str] = []
