"""R29: Django REST framework authenticates inside its views, where the middleware cannot look."""

from __future__ import annotations

import base64

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.test import RequestFactory
from rest_framework.authtoken.models import Token
from rest_framework.request import Request

from django_totp import checks
from django_totp.drf import IsTwoFactorVerified

from .conftest import PASSWORD, make_device

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.drf_urls")]

ME = "/api/v1/me/"
EXEMPT_ME = "/api/v1/exempt-me/"
TOKEN = "/api/v1/token/"


def basic(username: str, password: str = PASSWORD) -> dict[str, str]:
    credentials = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"HTTP_AUTHORIZATION": f"Basic {credentials}"}


def bearer(key: str) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": f"Token {key}"}


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_basic_auth_with_the_password_alone_is_refused_for_a_user_with_a_device(
    client, user, device
):
    # The review's attack: with the password only, the whole API answered.
    response = client.get(ME, **basic(user.username))
    assert response.status_code == 403
    assert "verification required" in response.json()["detail"]
    assert "alice" not in response.content.decode()


def test_basic_auth_is_refused_for_a_user_who_must_enrol(client, user, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    response = client.get(ME, **basic(user.username))
    assert response.status_code == 403
    assert "enrolment required" in response.json()["detail"]


def test_basic_auth_passes_for_a_user_without_2fa_whom_the_policy_does_not_cover(client, user):
    assert client.get(ME, **basic(user.username)).json() == {"username": "alice"}


def test_a_token_minted_from_a_password_alone_is_refused(client, user, device):
    # What DRF's obtain_auth_token (or the admin) hands out: not vouched for by a code.
    token = Token.objects.create(user=user)
    assert client.get(ME, **bearer(token.key)).status_code == 403


def test_the_token_view_needs_a_code_for_a_user_with_a_device(client, user, device, code_for):
    response = client.post(TOKEN, {"username": "alice", "password": PASSWORD})
    assert response.status_code == 400 and "code" in response.json()
    response = client.post(TOKEN, {"username": "alice", "password": PASSWORD, "code": "000000"})
    assert response.status_code == 400 and "not right" in response.json()["code"][0]
    assert not Token.objects.exists()
    device.refresh_from_db()
    device.failure_count = 0
    device.last_failure_at = None
    device.save()
    code = code_for(device)
    response = client.post(TOKEN, {"username": "alice", "password": PASSWORD, "code": code})
    assert response.status_code == 200
    key = response.json()["token"]
    assert client.get(ME, **bearer(key)).json() == {"username": "alice"}
    # The same code cannot mint a second token (R9).
    response = client.post(TOKEN, {"username": "alice", "password": PASSWORD, "code": code})
    assert response.status_code == 400 and "already been used" in response.json()["code"][0]


def test_a_wrong_password_mints_nothing(client, user, device, code_for):
    data = {"username": "alice", "password": "wrong", "code": code_for(device)}
    assert client.post(TOKEN, data).status_code == 400
    assert not Token.objects.exists()


def test_the_token_view_refuses_a_user_who_must_enrol_and_serves_one_who_need_not(
    client, user, settings
):
    settings.TOTP_REQUIRED_FOR = "everyone"
    data = {"username": "alice", "password": PASSWORD}
    assert client.post(TOKEN, data).status_code == 403
    settings.TOTP_REQUIRED_FOR = "nobody"
    key = client.post(TOKEN, data).json()["token"]
    assert client.get(ME, **bearer(key)).status_code == 200


def test_a_vouched_token_ends_with_the_device_whose_code_minted_it(client, user, device, code_for):
    backup = make_device(user, name="Backup")
    data = {"username": "alice", "password": PASSWORD, "code": code_for(device)}
    key = client.post(TOKEN, data).json()["token"]
    assert client.get(ME, **bearer(key)).status_code == 200
    device.delete()  # a reset or removal of that device; the user still has 2FA (backup)
    assert client.get(ME, **bearer(key)).status_code == 403
    backup.delete()  # now without 2FA, under TOTP_REQUIRED_FOR = "nobody": like the middleware
    assert client.get(ME, **bearer(key)).status_code == 200


def test_a_forged_token_key_is_refused(client, user, device):
    token = Token.objects.create(user=user, key="0" * 40)
    assert client.get(ME, **bearer(token.key)).status_code == 403


def test_a_verified_browser_session_passes(verified_client):
    assert verified_client.get(ME).json() == {"username": "alice"}


def test_an_unverified_session_is_refused_by_the_middleware_and_by_the_permission(
    password_client, device
):
    assert password_client.get(ME, HTTP_ACCEPT="application/json").status_code == 403
    response = password_client.get(EXEMPT_ME)  # the middleware lets this one through
    assert response.status_code == 403
    assert "verification required" in response.json()["detail"]


def test_a_user_other_than_the_sessions_is_never_judged_by_the_session(user, django_user_model):
    # DRF sets the user it authenticated on the Django request; should that ever differ,
    # the session's verification must not be lent to another user.
    bob = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    django_request = RequestFactory().get(EXEMPT_ME)
    SessionMiddleware(lambda request: None).process_request(django_request)
    django_request.user = user
    request = Request(django_request)
    request._user = bob
    assert not IsTwoFactorVerified().has_permission(request, None)


def test_the_test_settings_pass_the_drf_check():
    assert checks.check_rest_framework() == []


def test_password_or_token_authentication_without_the_permission_is_a_warning(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    }
    assert ids(checks.check_rest_framework()) == ["django_totp.W006"]
    settings.REST_FRAMEWORK = {"DEFAULT_PERMISSION_CLASSES": []}  # DRF's defaults: Basic
    assert ids(checks.check_rest_framework()) == ["django_totp.W006"]
    settings.REST_FRAMEWORK = {
        "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.SessionAuthentication"]
    }
    assert checks.check_rest_framework() == []


@pytest.mark.urls("tests.drf_unsafe_urls")
def test_drfs_own_obtain_auth_token_view_is_flagged_wherever_it_is_routed():
    messages = checks.check_rest_framework()
    assert ids(messages) == ["django_totp.W007"]
    assert "api/auth/token/" in messages[0].msg


def test_without_rest_framework_installed_nothing_is_checked(settings):
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if "rest_framework" not in a]
    assert checks.check_rest_framework() == []
