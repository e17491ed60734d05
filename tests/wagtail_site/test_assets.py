"""The 2FA pages in the Wagtail admin's look, and the two admin assets they need before the code.

Before django_totp.contrib.wagtail exempted them, Wagtail's icons.js fetched the icon sprite,
got the 2FA page's HTML instead and put a second copy of the page into the first.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.admindocs.views import extract_views_from_urlpatterns, simplify_regex
from django.urls import get_resolver, reverse

from django_totp.middleware import app_exempt_url_names

from .conftest import sign_in

pytestmark = pytest.mark.django_db

SPRITE = "wagtailadmin_sprite"
CATALOG = "wagtailadmin_javascript_catalog"


@pytest.fixture(params=["verify", "enrol"])
def password_only(request, client, editor, django_user_model):
    """An editor past Wagtail's sign-in only: one with an app, one who must set one up."""
    if request.param == "verify":
        request.getfixturevalue("editor_device")
    return sign_in(client, editor)


def test_the_app_exempts_exactly_the_sprite_and_the_catalogue():
    assert app_exempt_url_names() == {SPRITE, CATALOG}


def test_the_icon_sprite_loads_before_the_code(password_only):
    response = password_only.get(reverse(SPRITE))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("image/svg+xml")
    content = response.content.decode()
    # Wagtail's icons (a hidden <div> around an <svg> of symbols), not a page.
    assert '<svg><defs><symbol id="icon-' in content and "<html" not in content


def test_the_javascript_catalogue_loads_before_the_code(password_only):
    response = password_only.get(reverse(CATALOG))
    assert response.status_code == 200
    assert "javascript" in response["Content-Type"]
    assert "django.gettext" in response.content.decode()


@pytest.mark.parametrize("page", ["/2fa/verify/", "/2fa/setup/"])
def test_the_2fa_pages_wear_the_wagtail_admins_look(password_only, page):
    response = password_only.get(page, follow=True)
    assert response.status_code == 200
    html = response.content.decode()
    names = [template.name for template in response.templates]
    assert "wagtailadmin/admin_base.html" in names and "django_totp/base.html" in names
    assert "wagtailadmin/css/core.css" in html and "django_totp/totp.css" in html
    assert "django_totp/wagtail.css" in html  # its buttons and links in Wagtail's look
    # The assets the skeleton loads are the exempt ones, and they answer with themselves.
    sprite = re.search(r'data-icon-url="([^"]+)"', html)[1]
    assert password_only.get(sprite)["Content-Type"].startswith("image/svg+xml")
    assert f'src="{reverse(CATALOG)}"' in html
    assert html.count('id="main"') == 1


@pytest.mark.parametrize("page", ["/2fa/verify/", "/2fa/setup/"])
def test_the_2fa_pages_have_no_inline_script_or_style(password_only, page):
    html = password_only.get(page, follow=True).content.decode()
    assert "style=" not in html and "<style" not in html
    for tag in re.findall(r"<script\b[^>]*>", html):
        # Only scripts from files, and data for them (json_script), which never runs.
        assert "src=" in tag or 'type="application/json"' in tag, tag
    assert not re.search(r"\son[a-z]+=", html)


def admin_paths() -> list[str]:
    paths = set()
    for _view, regex, _namespace, _name in extract_views_from_urlpatterns(
        get_resolver().url_patterns
    ):
        # Fill each captured argument with a plausible value; the middleware answers first.
        path = re.sub(r"<[^>]+>", "1", simplify_regex(regex)).replace("\\", "")
        if path.startswith("/admin/"):
            paths.add(path)
    return sorted(paths)


# Reachable without the code: the two assets, and what any session reaches (logout, sign-in).
REACHABLE = {"/admin/sprite/", "/admin/jsi18n/", "/admin/logout/"}


def test_the_walk_covers_wagtails_admin():
    paths = admin_paths()
    assert len(paths) > 150
    assert {"/admin/pages/1/edit/", "/admin/documents/", "/admin/two-factor/users/1/reset/"} <= set(
        paths
    )
    assert REACHABLE <= set(paths)


@pytest.mark.parametrize("path", [p for p in admin_paths() if p not in REACHABLE])
def test_every_other_admin_url_is_refused_before_the_code(client, editor, editor_device, path):
    sign_in(client, editor)
    response = client.get(path)
    assert response.status_code == 302, path
    # (simplify_regex leaves some regex syntax in a few paths, which the client quotes again)
    assert response["Location"].startswith("/2fa/verify/?next=%2Fadmin%2F"), path
    api = client.get(path, HTTP_ACCEPT="application/json")
    assert api.status_code == 403 and json.loads(api.content)["redirect"] == "/2fa/verify/"
