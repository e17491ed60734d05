"""The package's own sign-out endpoint: every 2FA page can be left without a site URL name."""

from __future__ import annotations

import pytest
from asgiref.sync import async_to_sync
from django.test import Client

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
SIGN_OUT = "/2fa/sign-out/"


def signed_in(client: Client) -> bool:
    return "_auth_user_id" in client.session


@pytest.mark.urls("tests.bare_site_urls")
def test_a_site_without_a_logout_url_still_offers_cancel_and_sign_out(password_client, device):
    page = password_client.get("/2fa/verify/").content.decode()
    assert f'action="{SIGN_OUT}"' in page and "Cancel and sign out" in page
    response = password_client.post(SIGN_OUT)
    assert response.status_code == 302 and response["Location"] == "/"
    assert not signed_in(password_client)


@pytest.mark.urls("tests.bare_site_urls")
def test_cancel_and_sign_out_is_offered_on_the_enrolment_page_too(password_client, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    page = password_client.get("/2fa/setup/").content.decode()
    assert f'action="{SIGN_OUT}"' in page


def test_sign_out_goes_to_logout_redirect_url_or_a_safe_next(password_client, device, settings):
    settings.LOGOUT_REDIRECT_URL = "/help/"
    assert password_client.post(SIGN_OUT)["Location"] == "/help/"
    password_client.login(username="alice", password=PASSWORD)
    response = password_client.post(SIGN_OUT, {"next": "https://evil.example/"})
    assert response["Location"] == "/help/"
    password_client.login(username="alice", password=PASSWORD)
    assert password_client.post(SIGN_OUT, {"next": "/private/"})["Location"] == "/private/"


def test_sign_out_needs_post_and_a_csrf_token(user, device):
    client = Client(enforce_csrf_checks=True)
    assert client.login(username=user.username, password=PASSWORD)
    assert client.get(SIGN_OUT).status_code == 405
    assert client.post(SIGN_OUT).status_code == 403
    assert signed_in(client)
    page = client.get("/2fa/verify/")
    token = page.context["csrf_token"]
    assert client.post(SIGN_OUT, {"csrfmiddlewaretoken": str(token)}).status_code == 302
    assert not signed_in(client)


def test_a_site_logout_url_set_in_settings_is_still_offered(password_client, device, settings):
    settings.TOTP_LOGOUT_URL = "logout"
    page = password_client.get("/2fa/verify/").content.decode()
    assert 'action="/logout/"' in page


ADMIN_LOGOUTS = ["/django-admin/logout/", "/staff-admin/logout/"]


@pytest.mark.urls("tests.bare_site_urls")
@pytest.mark.parametrize("path", ADMIN_LOGOUTS)
def test_every_admin_sites_logout_works_before_the_code(client, staff_user, device, path):
    device.user = staff_user
    device.save()
    assert client.login(username=staff_user.username, password=PASSWORD)
    response = client.post(path)
    assert not response.get("Location", "").startswith("/2fa/verify/"), response.get("Location")
    assert response.status_code == 200
    assert not signed_in(client)


@pytest.mark.urls("tests.bare_site_urls")
def test_a_decorated_logout_view_subclass_works_before_the_code(password_client, device):
    # Wagtail's admin logout: a LogoutView subclass behind its require_admin_access decorator.
    response = password_client.post("/cms-admin/logout/")
    assert response.status_code == 302 and response["Location"] == "/"
    assert not signed_in(password_client)


@pytest.mark.urls("tests.bare_site_urls")
def test_every_admin_sites_logout_works_before_the_code_async(async_client, staff_user):
    from .conftest import make_device

    make_device(staff_user)
    for path in ADMIN_LOGOUTS:
        async_client.force_login(staff_user)
        response = async_to_sync(async_client.post)(path)
        assert response.status_code == 200, path  # the admin's "Logged out" page


@pytest.mark.urls("tests.bare_site_urls")
@pytest.mark.parametrize(
    "path", [*ADMIN_LOGOUTS, "/cms-admin/logout/", SIGN_OUT, f"{SIGN_OUT}?next=/x/"]
)
def test_a_logout_is_never_carried_as_next(password_client, device, code_for, path):
    assert password_client.get(f"/2fa/verify/?next={path}").status_code == 200
    response = password_client.post("/2fa/verify/", {"code": code_for(device), "next": path})
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_sites_own_logout_is_never_carried_as_next(password_client, device, code_for):
    response = password_client.post("/2fa/verify/", {"code": code_for(device), "next": "/logout/"})
    assert response["Location"] == "/"


@pytest.mark.urls("tests.bare_site_urls")
def test_a_page_asked_for_before_the_code_is_still_carried_as_next(password_client, device):
    response = password_client.get("/some/page/")
    assert response["Location"] == "/2fa/verify/?next=%2Fsome%2Fpage%2F"


def sign_in(client: Client, username: str = "alice") -> str:
    """Sign in through the login page; the messages the next page would show."""
    client.post("/login/", {"username": username, "password": PASSWORD})
    return client.get("/messages/").content.decode()


RESET_NOTICE = "staff reset your two-factor authentication, so you were signed out"


def test_after_a_staff_reset_the_user_hears_why_at_their_next_sign_in(
    verified_client, user, staff_user
):
    from django_totp import services

    services.reset_user(user, actor=staff_user)
    response = verified_client.get("/private/")
    assert response.status_code == 302 and not signed_in(verified_client)
    assert RESET_NOTICE in sign_in(verified_client)
    verified_client.post("/logout/")
    assert RESET_NOTICE not in sign_in(verified_client)  # once


def test_turning_2fa_off_oneself_brings_no_reset_notice(user, device):
    from django_totp import services

    services.reset_user(user, actor=user, event="disabled")
    assert RESET_NOTICE not in sign_in(Client())
