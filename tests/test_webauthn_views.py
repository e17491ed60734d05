"""The security-key pages through ``Client``: add, name, remove, and use a key at sign-in.

The browser's part is the software authenticator answering the options the page carries in
``json_script``; the answer goes back through the same POST + CSRF form flow as a code.
"""

from __future__ import annotations

import json
import re
import time

import pytest
import time_machine
from django.test import Client

from django_totp import session
from django_totp.conf import conf
from django_totp.models import VerifiedSession, WebAuthnCredential

from .authenticator import SoftAuthenticator
from .conftest import PASSWORD
from .test_csp import inline_code, needs_csp_middleware, strict_csp  # noqa: F401
from .test_webauthn import webauthn_on  # noqa: F401

pytestmark = pytest.mark.django_db

ADD = "/2fa/manage/keys/add/"
VERIFY = "/2fa/verify/"


def page_options(response) -> str:
    """The options the page hands its script, as the script reads them."""
    html = response.content.decode()
    found = re.search(
        r'<script id="totp-webauthn-options" type="application/json">(.*?)</script>', html
    )
    assert found, html
    return found.group(1)


def add_key(client: Client, authenticator: SoftAuthenticator, name: str = "Blue key"):
    response = client.get(ADD)
    assert response.status_code == 200
    credential = authenticator.create(page_options(response))
    return client.post(ADD, {"name": name, "credential": credential})


def sign_in(client: Client, user) -> Client:
    """The password step through the site's login view, with the browser's cookies."""
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response.status_code == 302
    return client


def use_key(client: Client, authenticator: SoftAuthenticator, path: str = VERIFY, **extra):
    response = client.get(path)
    assert response.status_code == 200
    data = {"key-credential": authenticator.get(page_options(response)), **extra}
    return client.post(path, data)


def test_a_person_adds_a_key_then_signs_in_with_it(verified_client, user):
    authenticator = SoftAuthenticator()
    page = verified_client.get(ADD)
    html = page.content.decode()
    assert inline_code(html) == []
    assert 'src="/static/django_totp/webauthn.js"' in html
    assert 'data-totp-webauthn="create"' in html
    assert json.loads(page_options(page))["rp"]["id"] == "example.com"

    response = add_key(verified_client, authenticator)
    assert response.status_code == 302 and response["Location"] == "/2fa/manage/"
    manage = verified_client.get("/2fa/manage/").content.decode()
    assert "Blue key" in manage and "Security keys and passkeys" in manage

    verified_client.post("/2fa/sign-out/")
    client = sign_in(Client(), user)
    assert client.get("/private/").status_code == 302
    verify = client.get(VERIFY + "?next=/private/")
    html = verify.content.decode()
    assert 'data-totp-webauthn="get"' in html and inline_code(html) == []
    # The app was used last: its code field comes first, the key below.
    assert html.index('name="code"') < html.index("Or use your security key")
    data = {"key-credential": authenticator.get(page_options(verify))}
    response = client.post(VERIFY + "?next=/private/", data)
    assert response.status_code == 302 and response["Location"] == "/private/"
    assert client.get("/private/").status_code == 200
    assert client.session[session.VERIFIED_KEY]["kind"] == "webauthn"
    # Now the key was used last: it comes first next time, the code field below.
    client.post("/2fa/sign-out/")
    html = sign_in(client, user).get(VERIFY).content.decode()
    assert html.index("Use your security key") < html.index("Or enter a code from your")
    assert html.index("Or enter a code from your") < html.index('name="code"')


def test_a_first_key_shows_recovery_codes_and_verifies_the_session(client, user):
    sign_in(client, user)
    response = add_key(client, SoftAuthenticator())
    assert response.status_code == 200
    assert len(response.context["codes"]) == 10
    assert client.get("/private/").status_code == 200


def test_a_key_only_user_is_not_asked_for_a_code(client, user):
    authenticator = SoftAuthenticator()
    add_key(sign_in(client, user), authenticator)
    client.post("/2fa/sign-out/")
    sign_in(client, user)
    html = client.get(VERIFY).content.decode()
    assert "Use your security key" in html and 'name="code"' not in html
    assert use_key(client, authenticator).status_code == 302


@pytest.mark.parametrize(
    "credential",
    ["", "{", "x" * 70_000, '{"type": "public-key"}', json.dumps({"response": []})],
)
def test_a_bad_answer_is_a_form_error_never_a_500(verified_client, user, credential):
    add_key(verified_client, SoftAuthenticator())
    client = sign_in(Client(), user)
    client.get(VERIFY)
    response = client.post(VERIFY, {"key-credential": credential})
    assert response.status_code == 200
    assert response.context["key_form"].errors
    assert client.get("/private/").status_code == 302
    # The page offers a fresh challenge to try again.
    assert json.loads(page_options(response))["challenge"]


def test_a_cloned_key_is_refused_at_sign_in(verified_client, user, mailoutbox):
    authenticator = SoftAuthenticator()
    add_key(verified_client, authenticator)
    clone = authenticator.clone()
    assert use_key(sign_in(Client(), user), authenticator).status_code == 302
    client = sign_in(Client(), user)
    response = use_key(client, clone)
    assert response.status_code == 200
    assert "looks like a copy" in response.content.decode()
    assert client.get("/private/").status_code == 302


def test_remembering_the_browser_with_a_key(verified_client, user, settings):
    settings.TOTP_REMEMBER_DAYS = 30
    authenticator = SoftAuthenticator()
    add_key(verified_client, authenticator)
    client = sign_in(Client(), user)
    response = use_key(client, authenticator, **{"key-remember": "on"})
    assert response.status_code == 302
    assert response.cookies[conf.TOTP_REMEMBER_COOKIE_NAME].value
    client.post("/2fa/sign-out/")
    sign_in(client, user)  # the remembered browser skips the second step
    assert client.get("/private/").status_code == 200


def test_a_key_is_step_up_for_a_stale_session(verified_client, user):
    authenticator = SoftAuthenticator()
    add_key(verified_client, authenticator)
    with time_machine.travel(time.time() + conf.TOTP_STEP_UP_SECONDS + 5, tick=False):
        assert verified_client.get("/2fa/manage/").status_code == 302  # step-up needed
        response = use_key(verified_client, authenticator, VERIFY + "?next=/2fa/manage/")
        assert response.status_code == 302 and response["Location"] == "/2fa/manage/"
        assert verified_client.get("/2fa/manage/").status_code == 200


def test_adding_a_key_needs_step_up(verified_client):
    with time_machine.travel(time.time() + conf.TOTP_STEP_UP_SECONDS + 5, tick=False):
        response = verified_client.get(ADD)
        assert response.status_code == 302 and response["Location"].startswith(VERIFY)


def test_a_user_who_must_enrol_may_enrol_a_key(client, user, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    sign_in(client, user)
    assert client.get("/private/")["Location"].startswith("/2fa/setup/")
    assert "Use a security key or passkey instead" in client.get("/2fa/setup/").content.decode()
    assert add_key(client, SoftAuthenticator()).status_code == 200
    assert client.get("/private/").status_code == 200


def test_renaming_and_removing_a_key(verified_client, user, django_user_model):
    add_key(verified_client, SoftAuthenticator())
    key = WebAuthnCredential.objects.get(user=user)
    response = verified_client.post(f"/2fa/manage/keys/{key.pk}/rename/", {"name": "Red key"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "Red key"
    page = verified_client.get(f"/2fa/manage/keys/{key.pk}/remove/").content.decode()
    assert "This key will stop working at once" in page
    assert verified_client.post(f"/2fa/manage/keys/{key.pk}/remove/").status_code == 302
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    # Another user's key is a 404, like another user's app; so is an app's id as a key's.
    bob = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    bobs_client = sign_in(Client(), bob)
    add_key(bobs_client, SoftAuthenticator())
    bobs = WebAuthnCredential.objects.get(user=bob)
    for action in ("rename", "remove"):
        url = f"/2fa/manage/keys/{bobs.pk}/{action}/"
        assert verified_client.get(url).status_code == 404
        assert verified_client.post(url, {"name": "mine"}).status_code == 404
    assert WebAuthnCredential.objects.get(user=bob).name == "Blue key"


def test_removing_a_key_by_its_page_ends_the_sessions_it_verified(verified_client, user):
    authenticator = SoftAuthenticator()
    add_key(verified_client, authenticator)
    other = sign_in(Client(), user)
    assert use_key(other, authenticator).status_code == 302
    key = WebAuthnCredential.objects.get(user=user)
    assert VerifiedSession.objects.filter(credential=key).exists()
    assert verified_client.post(f"/2fa/manage/keys/{key.pk}/remove/").status_code == 302
    assert other.get("/private/").status_code == 302  # signed out
    assert verified_client.get("/private/").status_code == 200


def test_the_last_device_page_refuses_under_a_policy(client, user, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    sign_in(client, user)
    add_key(client, SoftAuthenticator())
    key = WebAuthnCredential.objects.get(user=user)
    page = client.get(f"/2fa/manage/keys/{key.pk}/remove/").content.decode()
    assert "your last device cannot be removed" in page
    assert client.post(f"/2fa/manage/keys/{key.pk}/remove/").status_code == 403
    assert WebAuthnCredential.objects.filter(user=user).exists()


def test_without_webauthn_there_are_no_key_pages(verified_client, user, settings):
    add_key(verified_client, SoftAuthenticator())
    settings.TOTP_WEBAUTHN = False
    assert verified_client.get(ADD).status_code == 404
    client = sign_in(Client(), user)
    html = client.get(VERIFY).content.decode()
    assert "Use your security key" not in html and 'name="code"' in html
    assert client.post(VERIFY, {"key-credential": "{}"}).status_code == 404


@needs_csp_middleware
@pytest.mark.usefixtures("strict_csp")
def test_the_key_script_carries_the_nonce_of_a_strict_policy(verified_client, user):
    add_key(verified_client, SoftAuthenticator())
    for response in (verified_client.get(ADD), sign_in(Client(), user).get(VERIFY)):
        html = response.content.decode()
        (nonce,) = re.findall(r"'nonce-([^']+)'", response["Content-Security-Policy"])
        assert f'src="/static/django_totp/webauthn.js" defer nonce="{nonce}"' in html
        assert inline_code(html) == []
