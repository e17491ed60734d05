"""R16: walk every URL pattern of the demo with a password-only session.

Only the documented allow-list answers; everything else, the admin included, is a redirect to the
code page (or a 403 for JSON). New URL patterns are picked up automatically.
"""

from __future__ import annotations

import json
import re
from urllib.parse import quote

import pytest
from django.contrib.admindocs.views import extract_views_from_urlpatterns, simplify_regex
from django.urls import get_resolver

pytestmark = pytest.mark.django_db
# Home is @totp_exempt; the logouts, verify and its recovery-code alternative by design.
ALLOWED = {
    "/",
    "/logout/",
    "/admin/logout/",
    "/2fa/sign-out/",
    "/2fa/verify/",
    "/2fa/verify/recovery/",
}


def every_path() -> list[str]:
    paths = set()
    for _view, regex, _namespace, _name in extract_views_from_urlpatterns(
        get_resolver().url_patterns
    ):
        # Fill each captured argument with a plausible value; the middleware answers first.
        paths.add(re.sub(r"<[^>]+>", "1", simplify_regex(regex)))
    return sorted(paths)


PATHS = every_path()


def test_the_walk_covers_the_whole_site():
    assert len(PATHS) > 30
    assert {"/account/", "/register/", "/login/", "/admin/", "/2fa/setup/"} <= set(PATHS)


@pytest.mark.parametrize("path", [p for p in PATHS if p not in ALLOWED])
def test_every_other_page_sends_a_password_only_session_to_verify(password_client, device, path):
    response = password_client.get(path)
    assert response.status_code == 302, path
    assert response["Location"] == f"/2fa/verify/?next={quote(path, safe='')}"
    api = password_client.get(path, HTTP_ACCEPT="application/json")
    assert api.status_code == 403 and json.loads(api.content)["redirect"] == "/2fa/verify/"


@pytest.mark.parametrize("path", sorted(ALLOWED))
def test_the_allow_list_answers_without_a_redirect_to_verify(password_client, device, path):
    response = password_client.get(path)
    assert not response.get("Location", "").startswith("/2fa/verify/"), path


# The demo has security keys on: a key satisfies the policy as an app does (W6).
ENROLMENT = {"/2fa/setup/", "/2fa/manage/keys/add/"}


@pytest.mark.parametrize("path", [p for p in PATHS if p not in ALLOWED | ENROLMENT])
def test_a_user_who_must_enrol_reaches_only_setup(password_client, path):
    response = password_client.get(path)
    assert response.status_code == 302, path
    assert response["Location"] == f"/2fa/setup/?next={quote(path, safe='')}"


@pytest.mark.parametrize("path", sorted(ENROLMENT))
def test_a_user_who_must_enrol_may_enrol_an_app_or_a_key(password_client, path):
    assert password_client.get(path).status_code == 200
