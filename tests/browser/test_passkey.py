"""Passkey sign-in in Chromium: one touch, no username, password or code (issue 15).

The demo's login page carries ``{% totp_passkey_sign_in %}``; DevTools' virtual authenticator
(an internal one that keeps discoverable credentials and verifies its user, like Touch ID or
Windows Hello) answers the page's own ``passkey.js`` under the demo's strict CSP.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from . import axe
from .conftest import NO_AUTOFILL, person_on
from .flow import Account, Flow, Viewport
from .server import DemoServer, demo_server, free_port
from .test_webauthn import PLATFORM_PASSKEY, VirtualKey, add_key

REFUSED = "This passkey could not be used to sign in. Try again, or sign in with your password."


@pytest.fixture(scope="module")
def passkey_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    port = free_port()
    origin = f"http://localhost:{port}"
    workdir = tmp_path_factory.mktemp("passkey-demo")
    with demo_server(
        workdir, "tests.browser.passkey_settings", port=port, TOTP_BROWSER_WEBAUTHN_ORIGIN=origin
    ) as server:
        yield dataclasses.replace(server, url=origin)


@pytest.fixture
def passkey_flow(
    request: pytest.FixtureRequest, page: Page, passkey_demo: DemoServer, viewport: Viewport
) -> Iterator[Flow]:
    yield from person_on(request, page, passkey_demo, viewport)


def register_with_passkey(flow: Flow, audit: axe.Audit | None = None) -> Account:
    """A new account whose only device is a passkey; ends signed in, on the settings page."""
    account = flow.register()
    add_key(flow, "Laptop")
    flow.save_recovery_codes(account)
    flow.open("/2fa/manage/")
    expect(flow.page.get_by_text("A passkey: signs you in by itself.")).to_be_visible()
    if audit is not None:
        audit("manage, with a passkey")
    return account


def sign_in_with_passkey(flow: Flow) -> None:
    """No username, no password: the login page's passkey button, one touch."""
    flow.open("/login/")
    flow.press_button("Sign in with a passkey")


def test_a_person_signs_in_with_a_passkey_alone(passkey_flow: Flow):
    flow = passkey_flow
    flow.page.add_init_script(NO_AUTOFILL)
    audit = axe.Audit(flow)
    key = VirtualKey(flow.page, **PLATFORM_PASSKEY)
    account = register_with_passkey(flow, audit)
    (credential,) = key.credentials()
    assert credential["isResidentCredential"]
    registered = credential["signCount"]
    flow.sign_out()

    flow.open("/login/")
    expect(flow.page.get_by_role("button", name="Sign in with a passkey")).to_be_visible()
    audit("login, with the passkey button")
    before = len(flow.traffic.requests)
    flow.press_button("Sign in with a passkey")
    flow.expect_account_page(account)
    # Zero further prompts: neither the code page nor the password was asked for.
    after = flow.traffic.requests[before:]
    assert not [url for url in after if "/2fa/verify/" in url or "/login/" in url], after
    (credential,) = key.credentials()
    assert credential["signCount"] > registered
    # The passkey was this session's proof: changing 2FA asks for nothing more.
    flow.open("/2fa/manage/")
    expect(flow.heading("Two-factor authentication")).to_be_visible()
    audit.check()


def test_passkey_autofill_in_the_username_field_signs_in(passkey_flow: Flow):
    """Conditional UI: the page asks with ``mediation: "conditional"`` as it loads, and the
    username field offers the passkey; the virtual authenticator chooses it."""
    flow = passkey_flow
    key = VirtualKey(flow.page, **PLATFORM_PASSKEY)
    account = register_with_passkey(flow)
    flow.sign_out()
    (credential,) = key.credentials()
    flow.open("/login/")
    flow.expect_account_page(account)
    (used,) = key.credentials()
    assert used["signCount"] > credential["signCount"]
    assert flow.traffic.requests.count(flow.base_url + "/2fa/passkey/begin/") == 1


def test_without_webauthn_the_button_stays_hidden(passkey_flow: Flow):
    flow = passkey_flow
    flow.page.add_init_script("delete window.PublicKeyCredential;")
    flow.open("/login/")
    expect(flow.field("Username")).to_be_visible()
    expect(flow.page.get_by_role("button", name="Sign in with a passkey")).to_be_hidden()


def test_a_staff_reset_ends_the_session_and_the_passkey_is_refused(
    passkey_flow: Flow, passkey_demo: DemoServer
):
    flow = passkey_flow
    flow.page.add_init_script(NO_AUTOFILL)
    VirtualKey(flow.page, **PLATFORM_PASSKEY)
    account = register_with_passkey(flow)
    flow.sign_out()
    sign_in_with_passkey(flow)
    flow.expect_account_page(account)

    passkey_demo.manage("totp_reset", account.username)
    # The passkey-verified session was deleted with the passkey: signed out at once.
    flow.open("/account/")
    expect(flow.page).to_have_url(re.compile(r"/login/\?next=/account/"))
    # The authenticator still holds the passkey; the site no longer knows it.
    sign_in_with_passkey(flow)
    expect(flow.page.get_by_role("alert").filter(has_text=REFUSED)).to_be_visible()
    expect(flow.page).to_have_url(re.compile(r"/login/$"))
    flow.open("/account/")  # still signed out
    expect(flow.page).to_have_url(re.compile(r"/login/\?next=/account/"))


def test_a_deactivated_users_passkey_is_refused(passkey_flow: Flow, passkey_demo: DemoServer):
    flow = passkey_flow
    flow.page.add_init_script(NO_AUTOFILL)
    VirtualKey(flow.page, **PLATFORM_PASSKEY)
    account = register_with_passkey(flow)
    flow.sign_out()
    passkey_demo.manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.filter(username={account.username!r}).update(is_active=False)",
    )
    sign_in_with_passkey(flow)
    expect(flow.page.get_by_role("alert").filter(has_text=REFUSED)).to_be_visible()
    flow.open("/account/")
    expect(flow.page).to_have_url(re.compile(r"/login/\?next=/account/"))
