"""Django's LoginRequiredMiddleware (5.1+) beside ours.

A password-only session is authenticated, so LoginRequiredMiddleware lets it through and
TOTPMiddleware stays the gate for the second factor; anonymous visitors meet the login page
first, our pages included (they are for signed-in users). Either order in MIDDLEWARE works.
"""

from __future__ import annotations

import pytest

from django_totp import checks

from .conftest import make_device

pytestmark = pytest.mark.django_db

LOGIN_REQUIRED = "django.contrib.auth.middleware.LoginRequiredMiddleware"
OURS = "django_totp.middleware.TOTPMiddleware"


@pytest.fixture(params=["before ours", "after ours"], autouse=True)
def login_required(request, settings):
    middleware = list(settings.MIDDLEWARE)
    position = middleware.index(OURS) + (request.param == "after ours")
    middleware.insert(position, LOGIN_REQUIRED)
    settings.MIDDLEWARE = middleware


def test_the_system_checks_accept_it_in_either_place():
    assert checks.check_middleware() == []


def test_an_anonymous_visitor_is_sent_to_the_login_page_by_django(client):
    for path in ("/private/", "/", "/2fa/verify/", "/2fa/setup/", "/2fa/manage/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/login/?next="), path
    assert client.get("/login/").status_code == 200


def test_a_password_only_session_is_still_sent_to_the_code_page(password_client, device):
    for path in ("/", "/private/", "/2fa/manage/"):
        response = password_client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/2fa/verify/"), path


def test_the_code_and_recovery_pages_are_reachable_and_verify(password_client, device, code_for):
    assert password_client.get("/2fa/verify/").status_code == 200
    assert password_client.get("/2fa/verify/recovery/").status_code == 200
    response = password_client.post("/2fa/verify/?next=/private/", {"code": code_for(device)})
    assert response.status_code == 302 and response["Location"] == "/private/"
    assert password_client.get("/private/").content == b"private page"
    assert password_client.get("/").content == b"home"


def test_enrolment_is_reachable_when_2fa_is_required(password_client, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    response = password_client.get("/private/")
    assert response.status_code == 302 and response["Location"].startswith("/2fa/setup/")
    assert password_client.get("/2fa/setup/").status_code == 200


def test_a_password_only_session_can_sign_out(password_client, user):
    make_device(user)
    response = password_client.post("/logout/")
    assert response.status_code in (200, 302)
    assert not response.get("Location", "").startswith("/2fa/")
    response = password_client.get("/private/")
    assert response["Location"].startswith("/login/?next=")
