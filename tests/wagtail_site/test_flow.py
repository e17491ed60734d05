"""docs/wagtail.md's recipe on a bakerydemo-shaped site: who is asked, and every step of the way.

Editors reach Wagtail's admin by the ``wagtailadmin.access_admin`` permission of a group, not
``is_staff``; ``TOTP_REQUIRED_PERMISSIONS`` covers them. Front-end accounts are not asked.
"""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
import time_machine
from django.test import Client

from tests.conftest import PASSWORD

from .conftest import sign_in

pytestmark = pytest.mark.django_db

# The Wagtail admin: its home, page tree, editing the home page that Wagtail's migrations create,
# documents, users, and the admin API that the page explorer reads.
ADMIN_PAGES = [
    "/admin/",
    "/admin/pages/",
    "/admin/pages/2/edit/",
    "/admin/pages/2/",
    "/admin/documents/",
    "/admin/documents/multiple/add/",
    "/admin/api/main/pages/?child_of=root",
]
# Also enforced before the code, though Wagtail's Editors group may not see it afterwards.
ENFORCED = [*ADMIN_PAGES, "/admin/users/", "/admin/two-factor/users/1/reset/"]
SETUP = "/2fa/setup/"
VERIFY = "/2fa/verify/"


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.parametrize("path", ENFORCED)
def test_an_editor_without_an_app_must_set_one_up_before_any_admin_page(client, editor, path):
    sign_in(client, editor)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{SETUP}?next={quote(path, safe='')}"
    api = client.get(path, HTTP_ACCEPT="application/json")
    assert api.status_code == 403 and json.loads(api.content)["redirect"] == SETUP


@pytest.mark.parametrize("path", ENFORCED)
def test_an_editor_with_an_app_must_type_a_code_before_any_admin_page(
    client, editor, editor_device, path
):
    sign_in(client, editor)
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"] == f"{VERIFY}?next={quote(path, safe='')}"
    api = client.get(path, HTTP_X_REQUESTED_WITH="XMLHttpRequest")
    assert api.status_code == 403 and json.loads(api.content)["redirect"] == VERIFY


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_a_verified_editor_reaches_every_admin_page(editor_client, path):
    assert editor_client.get(path).status_code == 200


def test_a_front_end_account_is_not_asked_for_a_second_factor(client, user):
    assert client.login(username=user.username, password=PASSWORD)
    assert client.get("/").status_code == 200  # Wagtail's welcome page
    # Wagtail's own answer to an account without access_admin: its sign-in page, not ours.
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")


def test_an_editor_enrols_from_wagtails_sign_in_and_lands_where_next_said(client, editor, code_for):
    # Every step answers 200 or a redirect to the next step: no 404 or 405 on the way.
    page = "/admin/pages/2/edit/"
    response = client.get(page)
    assert response.status_code == 302
    login = response["Location"]
    assert login == f"/admin/login/?next={page}"  # Wagtail's own redirect
    assert client.get(login).status_code == 200
    sign_in(client, editor, page)
    response = client.get(page)
    assert response["Location"] == f"{SETUP}?next={quote(page, safe='')}"
    assert client.get(response["Location"]).status_code == 200
    response = client.post(response["Location"], {"start": "1"})
    assert response.status_code == 302
    setup = response["Location"]
    assert client.get(setup).status_code == 200
    device = editor.totp_devices.get()
    response = client.post(setup, {"code": code_for(device)})
    assert response.status_code == 200  # the recovery codes, then a link on to next
    assert response.context["next_url"] == page
    assert client.get(page).status_code == 200


def test_an_enrolled_editor_verifies_and_lands_where_next_said(
    client, editor, editor_device, code_for
):
    page = "/admin/documents/"
    sign_in(client, editor, page)
    response = client.get(page)
    verify = response["Location"]
    assert verify == f"{VERIFY}?next={quote(page, safe='')}"
    assert client.get(verify).status_code == 200
    response = client.post(verify, {"code": code_for(editor_device)})
    assert response.status_code == 302 and response["Location"] == page
    assert client.get(page).status_code == 200


def test_without_next_a_verified_editor_lands_on_the_admin_home(
    client, editor, editor_device, code_for
):
    sign_in(client, editor)
    response = client.post(VERIFY, {"code": code_for(editor_device)})
    assert response["Location"] == "/admin/"


def test_wagtails_logout_works_before_the_code(client, editor, editor_device):
    sign_in(client, editor)
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert not signed_in(client)
    assert client.get(response["Location"]).status_code == 200


def test_wagtails_logout_works_before_enrolment(client, editor):
    sign_in(client, editor)
    response = client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert not signed_in(client)


def test_wagtails_logout_works_after_the_code(editor_client):
    response = editor_client.post("/admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/"
    assert not signed_in(editor_client)


def test_the_2fa_pages_own_sign_out_works_too(client, editor, editor_device):
    sign_in(client, editor)
    page = client.get(VERIFY).content.decode()
    assert 'action="/2fa/sign-out/"' in page
    assert client.post("/2fa/sign-out/").status_code == 302
    assert not signed_in(client)


@pytest.mark.parametrize("logout", ["/admin/logout/", "/admin/logout/?next=/admin/"])
def test_wagtails_logout_is_never_carried_as_next(client, editor, editor_device, code_for, logout):
    sign_in(client, editor, logout)
    response = client.get(f"{VERIFY}?next={quote(logout, safe='')}")
    assert response.status_code == 200
    response = client.post(VERIFY, {"code": code_for(editor_device), "next": logout})
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_an_expired_password_step_goes_back_to_wagtails_sign_in(client, editor, editor_device):
    with time_machine.travel("2026-01-01T12:00:00Z", tick=False) as clock:
        sign_in(client, editor)
        clock.shift(601)  # TOTP_PENDING_TIMEOUT's 10 minutes
        response = client.get("/admin/pages/")
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={quote('/admin/pages/', safe='')}"
    assert client.get(response["Location"]).status_code == 200


def test_wagtails_logout_is_recognised_as_a_logout():
    # A LogoutView subclass that Wagtail wraps in require_admin_access, never_cache and its 404
    # handler (functools.update_wrapper keeps view_class and __wrapped__).
    from django.urls import resolve

    from django_totp.redirects import is_logout, is_logout_url

    assert is_logout(resolve("/admin/logout/")) and is_logout_url("/admin/logout/?next=/")
    assert not is_logout(resolve("/admin/")) and not is_logout(resolve("/admin/login/"))


@pytest.mark.parametrize("page", [VERIFY, SETUP, "/2fa/manage/"])
def test_a_signed_out_visitor_of_the_2fa_pages_goes_to_wagtails_sign_in(client, page):
    response = client.get(page)
    assert response.status_code == 302
    assert response["Location"] == f"/admin/login/?next={page}"  # Django's redirect_to_login
    assert client.get(response["Location"]).status_code == 200
