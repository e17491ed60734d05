"""The demo site end to end, through Django's test client."""

from __future__ import annotations

import re
import time
from html import unescape

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.test import Client

from django_totp import oath
from django_totp.models import TOTPDevice
from tests.conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db

VERIFY_ACCOUNT = "/2fa/verify/?next=%2Faccount%2F"


def text(response) -> str:
    return response.content.decode()


def wrong_code(device: TOTPDevice, code_for) -> str:
    """A well-formed code that no step in or near the accepted window produces."""
    near = {code_for(device, offset=offset) for offset in range(-2, 3)}
    return next(code for code in ("000000", "123456", "999999") if code not in near)


def status_on_home(client: Client) -> str:
    response = client.get("/")
    assert response.status_code == 200
    match = re.search(r'data-status="([a-z_]+)"', text(response))
    assert match, text(response)
    return match.group(1)


def test_register_enrol_sign_out_and_sign_in_again_with_a_code(client, code_for, settings):
    # One wrong code below; without the back-off the next, right code can follow at once.
    settings.TOTP_THROTTLE_FACTOR = 0

    response = client.get("/register/")
    assert response.status_code == 200
    assert 'name="password2"' in text(response)

    response = client.post(
        "/register/", {"username": "bob", "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"] == "/2fa/setup/"

    response = client.get("/2fa/setup/")
    assert response.status_code == 200
    assert 'name="start"' in text(response)
    assert "Continue" in text(response)

    response = client.post("/2fa/setup/", {"start": "1"})
    assert response.status_code == 302
    response = client.get(response["Location"])
    assert response.status_code == 200
    assert "<svg" in text(response)
    assert 'href="otpauth://totp/' in text(response)

    device = TOTPDevice.objects.get(user__username="bob")
    code = oath.code_at_step(device.secret, oath.time_step(time.time(), device.period))
    response = client.post("/2fa/setup/", {"code": code})
    assert response.status_code == 200
    assert "will not be shown again" in text(response)
    assert text(response).count("<code>") == 10
    assert 'href="/account/"' in text(response)

    response = client.get("/account/")
    assert response.status_code == 200
    assert "bob" in text(response)
    assert text(response).count('data-testid="device"') == 1

    response = client.post("/logout/")
    assert response.status_code == 302
    assert status_on_home(client) == "anonymous"

    response = client.post("/login/", {"username": "bob", "password": PASSWORD}, follow=True)
    assert response.redirect_chain[-1] == (VERIFY_ACCOUNT, 302)
    assert response.request["PATH_INFO"] == "/2fa/verify/"
    assert "Enter your authentication code" in text(response)

    device.refresh_from_db()
    response = client.post(VERIFY_ACCOUNT, {"code": wrong_code(device, code_for)})
    assert response.status_code == 200
    assert "That code is not right" in text(response)

    # The current step was spent at enrolment and replays are refused: use the next one.
    response = client.post(VERIFY_ACCOUNT, {"code": code_for(device, offset=1)})
    assert response.status_code == 302
    assert response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200


def test_registration_with_mismatched_passwords_shows_the_form_again(client):
    response = client.post(
        "/register/", {"username": "bob", "password1": PASSWORD, "password2": PASSWORD + "x"}
    )
    assert response.status_code == 200
    assert "didn’t match" in text(response) or "didn't match" in text(response)
    assert not TOTPDevice.objects.exists()


def test_home_shows_an_anonymous_visitor_the_sign_in_and_register_buttons(client):
    assert status_on_home(client) == "anonymous"
    page = text(client.get("/"))
    assert 'href="/login/"' in page
    assert 'href="/register/"' in page


def test_home_offers_setup_to_a_signed_in_user_without_an_authenticator(password_client):
    assert status_on_home(password_client) == "no_device"
    assert 'href="/2fa/setup/"' in text(password_client.get("/"))


def test_home_asks_a_password_only_session_for_its_code(password_client, device):
    assert status_on_home(password_client) == "unverified"
    assert 'href="/2fa/verify/?next=/account/"' in text(password_client.get("/"))


def test_home_shows_a_verified_session_as_verified(verified_client):
    assert status_on_home(verified_client) == "verified"
    assert 'href="/account/"' in text(verified_client.get("/"))


def test_account_sends_a_password_only_session_to_verify(password_client, device):
    response = password_client.get("/account/")
    assert response.status_code == 302
    assert response["Location"] == VERIFY_ACCOUNT


def test_account_sends_a_user_without_an_authenticator_to_setup(password_client):
    response = password_client.get("/account/")
    assert response.status_code == 302
    assert response["Location"] == "/2fa/setup/?next=%2Faccount%2F"


def test_account_sends_an_anonymous_visitor_to_sign_in(client):
    response = client.get("/account/")
    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/account/"


def test_admin_sends_a_password_only_staff_session_to_verify(client, staff_user):
    make_device(staff_user)
    assert client.login(username="staff", password=PASSWORD)
    response = client.get("/admin/")
    assert response.status_code == 302
    assert response["Location"] == "/2fa/verify/?next=%2Fadmin%2F"


def test_admin_opens_for_a_verified_staff_session(client, staff_user, code_for):
    device = make_device(staff_user)
    assert client.login(username="staff", password=PASSWORD)
    client.post("/2fa/verify/", {"code": code_for(device)})
    assert client.get("/admin/").status_code == 200
    assert 'href="/admin/"' in text(client.get("/"))


def test_cancel_and_sign_out_works_before_the_code(password_client, device):
    page = text(password_client.get("/2fa/verify/"))
    assert 'action="/2fa/sign-out/"' in page
    response = password_client.post("/2fa/sign-out/")
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert status_on_home(password_client) == "anonymous"


ASSET_TAG = re.compile(r"<(?:link|script)\b[^>]*>", re.IGNORECASE)
ASSET_URL = re.compile(r'\b(?:href|src)="([^"]*)"', re.IGNORECASE)


def asset_urls(page: str) -> list[str]:
    return [url for tag in ASSET_TAG.findall(page) for url in ASSET_URL.findall(tag)]


def demo_pages(client: Client, user, code_for) -> dict[str, str]:
    pages = {}
    for path in ("/", "/login/", "/register/"):
        pages[path] = text(client.get(path))
    client.force_login(user)
    pages["/2fa/setup/ (start)"] = text(client.get("/2fa/setup/"))
    client.post("/2fa/setup/", {"start": "1"})
    pages["/2fa/setup/ (QR)"] = text(client.get("/2fa/setup/"))
    device = TOTPDevice.objects.get(user=user)
    pages["/2fa/setup/ (codes)"] = text(client.post("/2fa/setup/", {"code": code_for(device)}))
    pages["/account/"] = text(client.get("/account/"))
    pages["/2fa/manage/"] = text(client.get("/2fa/manage/"))
    client.post("/logout/")
    client.login(username=user.get_username(), password=PASSWORD)
    pages["/2fa/verify/"] = text(client.get("/2fa/verify/"))
    return pages


def test_pages_load_css_and_js_from_this_site_only(client, user, code_for):
    static_prefix = "/" + settings.STATIC_URL.lstrip("/")
    for name, page in demo_pages(client, user, code_for).items():
        urls = asset_urls(page)
        assert any(url.endswith("/bootstrap.min.css") for url in urls), name
        for url in urls:
            assert not re.match(r"(?i)^(https?:)?//", url), (name, url)
            assert url.startswith(static_prefix), (name, url)
            assert finders.find(url.removeprefix(static_prefix)), (name, url)


def test_the_2fa_pages_use_the_demo_layout(password_client, device):
    page = text(password_client.get("/2fa/verify/"))
    assert "navbar" in page
    assert 'class="card shadow-sm mx-auto demo-card totp-card"' in page
    assert "<title>Enter your authentication code · django-totp demo</title>" in page


def test_lost_phone_recovery_code_then_replace_the_phone_from_the_settings_page(client, code_for):
    """A user saves their codes, loses the phone, gets in with a code and moves to a new one."""
    client.post("/register/", {"username": "carol", "password1": PASSWORD, "password2": PASSWORD})
    client.post("/2fa/setup/", {"start": "1"})
    old_phone = TOTPDevice.objects.get(user__username="carol")
    saved = client.post("/2fa/setup/", {"code": code_for(old_phone)}).context["codes"]
    client.post("/logout/")

    response = client.post("/login/", {"username": "carol", "password": PASSWORD}, follow=True)
    assert "Use a recovery code instead" in text(response)
    response = client.post(
        "/2fa/verify/recovery/?next=%2Faccount%2F", {"code": saved[0].upper()}, follow=True
    )
    assert response.request["PATH_INFO"] == "/account/"
    assert "9 recovery codes left" in text(response)
    assert 'href="/2fa/manage/"' in text(response)

    manage = text(client.get("/2fa/manage/"))
    assert "9 unused recovery codes" in manage
    replace = f"/2fa/setup/?replace={old_phone.pk}"
    assert replace in manage
    client.post(replace, {"start": "1", "replace": str(old_phone.pk)})
    new_phone = TOTPDevice.objects.get(user__username="carol", confirmed=False)
    response = client.post("/2fa/setup/", {"code": code_for(new_phone)})
    assert response.status_code == 302
    assert list(TOTPDevice.objects.filter(user__username="carol")) == [new_phone]


def test_dont_ask_again_skips_the_code_on_this_browser_only(client, user, device, code_for):
    assert settings.TOTP_REMEMBER_DAYS == 30
    client.post("/login/", {"username": user.username, "password": PASSWORD})
    page = text(client.get("/2fa/verify/"))
    assert "Don&#x27;t ask again on this browser for 30 days" in page
    client.post("/2fa/verify/", {"code": code_for(device), "remember": "on"})
    client.post("/logout/")
    response = client.post("/login/", {"username": user.username, "password": PASSWORD})
    assert response["Location"] == "/account/"
    assert client.get("/account/").status_code == 200

    other_browser = Client()
    other_browser.post("/login/", {"username": user.username, "password": PASSWORD})
    assert other_browser.get("/account/")["Location"] == VERIFY_ACCOUNT


@pytest.mark.parametrize(
    ("language", "heading", "remember"),
    [
        ("de", "Geben Sie Ihren Authentifizierungscode ein", "30 Tage lang nicht mehr fragen"),
        ("es", "Introduzca su código de autenticación", "durante 30 días"),
        ("fr", "Saisissez votre code d'authentification", "pendant 30 jours"),
        ("it", "Inserisca il codice di autenticazione", "per 30 giorni"),
        ("ja", "認証コードを入力してください", "30日間確認しない"),
        ("nl", "Voer uw authenticatiecode in", "30 dagen niet meer vragen"),
        ("pl", "Wpisz kod uwierzytelniający", "przez 30 dni"),
        ("pt-br", "Digite seu código de autenticação", "por 30 dias"),
        ("en", "Enter your authentication code", "for 30 days"),
    ],
)
def test_a_browser_set_to_a_shipped_language_gets_the_2fa_pages_in_it(
    password_client, device, language, heading, remember
):
    response = password_client.get("/2fa/verify/", headers={"accept-language": language})
    assert response["Content-Language"] == language
    page = unescape(text(response))  # d'authentification, not d&#x27;authentification
    assert f'<html lang="{language}"' in page
    assert heading in page and remember in page


def test_without_accept_language_the_demo_is_english(password_client, device):
    page = text(password_client.get("/2fa/verify/"))
    assert '<html lang="en"' in page
    assert "Enter your authentication code" in page
