"""Security keys in Chromium: DevTools' virtual authenticator against the demo at localhost.

The page's own script (``django_totp/webauthn.js``, under the demo's strict CSP) runs the
browser's real WebAuthn API; Chromium's virtual authenticator (CDP ``WebAuthn.*``) stands in
for the key, as in django-otp-webauthn's end-to-end tests.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, CDPSession, Locator, Page, expect

from . import axe
from .conftest import NO_AUTOFILL, person_on
from .flow import Account, Flow, Viewport
from .server import STAFF_PASSWORD, DemoServer, demo_server, free_port

USB_KEY = {
    "protocol": "ctap2",
    "transport": "usb",
    "hasResidentKey": False,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}
# Touch ID, Windows Hello: built in, able to keep discoverable credentials, verifies its user
# (as a second factor the site asks for a non-discoverable one: residentKey "discouraged").
PLATFORM_PASSKEY = {**USB_KEY, "transport": "internal", "hasResidentKey": True}
# An old FIDO U2F key: no user verification, no discoverable credentials.
U2F_KEY = {**USB_KEY, "protocol": "u2f", "hasUserVerification": False, "isUserVerified": False}


class VirtualKey:
    """A key plugged into the page's browser, through DevTools."""

    def __init__(self, page: Page, **options: Any) -> None:
        self.cdp: CDPSession = page.context.new_cdp_session(page)
        self.cdp.send("WebAuthn.enable")
        found = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        self.id = found["authenticatorId"]

    def credentials(self) -> list[dict[str, Any]]:
        found = self.cdp.send("WebAuthn.getCredentials", {"authenticatorId": self.id})
        credentials: list[dict[str, Any]] = found["credentials"]
        return credentials

    def unplug(self) -> None:
        self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.id})


def add_key(flow: Flow, name: str, audit: axe.Audit | None = None) -> None:
    """From the first enrolment page: a key instead of an app; ends on the recovery codes."""
    flow.press(flow.page.get_by_role("link", name="Use a security key or passkey instead"))
    expect(flow.heading("Add a security key or passkey")).to_be_visible()
    if audit is not None:
        audit("add a key")
    flow.field("Name").fill(name)
    flow.press_button("Add security key")
    expect(flow.heading("Save your recovery codes")).to_be_visible()


def sign_in_with_password(flow: Flow, account: Account) -> None:
    """The password step; ends on the verify page, which offers the key."""
    flow.open("/login/")
    flow.field("Username").fill(account.username)
    flow.field("Password").fill(account.password)
    flow.press_button("Sign in")
    expect(flow.page).to_have_url(re.compile(r"/2fa/verify/"))


def use_key(flow: Flow) -> None:
    expect(flow.heading("Use your security key")).to_be_visible()
    flow.press_button("Use your security key")


def test_a_person_adds_a_usb_key_and_signs_in_with_it(key_flow: Flow):
    flow = key_flow
    audit = axe.Audit(flow)
    key = VirtualKey(flow.page, **USB_KEY)
    account = flow.register()
    expect(flow.page.get_by_test_id("key-address")).to_have_count(0)  # at localhost already
    audit("enrolment: start, with the key offered")
    add_key(flow, "Blue key", audit)
    flow.save_recovery_codes(account)
    flow.open("/2fa/manage/")
    expect(flow.page.get_by_text("Blue key")).to_be_visible()
    audit("manage, with a key")
    (credential,) = key.credentials()
    registered = credential["signCount"]

    flow.sign_out()
    sign_in_with_password(flow, account)
    expect(flow.page.get_by_label("Authentication code")).to_have_count(0)  # no app
    audit("verify with a key")
    use_key(flow)
    flow.expect_account_page(account)
    (credential,) = key.credentials()
    assert credential["signCount"] > registered
    audit.check()


def test_a_superuser_signs_in_with_a_usb_key_and_the_admin_opens(
    key_flow: Flow, key_demo: DemoServer, viewport: Viewport
):
    flow = key_flow
    VirtualKey(flow.page, **USB_KEY)
    admin = Account(f"key-admin-{viewport.name}", password=STAFF_PASSWORD)
    key_demo.manage(
        "shell",
        "--no-imports",
        "-c",
        "from django.contrib.auth import get_user_model; get_user_model().objects"
        f".create_superuser({admin.username!r}, '', {admin.password!r})",
    )
    flow.open("/login/")
    flow.field("Username").fill(admin.username)
    flow.field("Password").fill(admin.password)
    flow.press_button("Sign in")
    add_key(flow, "Admin key")
    flow.save_recovery_codes(admin)
    flow.sign_out()
    sign_in_with_password(flow, admin)
    use_key(flow)
    flow.open("/admin/")
    expect(flow.heading("Site administration")).to_be_visible()
    flow.assert_no_csp_violations()


def test_a_cloned_key_is_refused(key_flow: Flow):
    flow = key_flow
    key = VirtualKey(flow.page, **USB_KEY)
    account = flow.register()
    add_key(flow, "Blue key")
    flow.save_recovery_codes(account)
    (original,) = key.credentials()
    flow.sign_out()
    for _ in range(2):  # the real key is used twice; its counter rises
        sign_in_with_password(flow, account)
        use_key(flow)
        flow.expect_account_page(account)
        flow.sign_out()

    # A copy of the key as it was when registered, counter and all, on another authenticator.
    key.unplug()
    clone = VirtualKey(flow.page, **USB_KEY)
    copied = {**original, "rpId": "localhost"}
    clone.cdp.send("WebAuthn.addCredential", {"authenticatorId": clone.id, "credential": copied})
    sign_in_with_password(flow, account)
    use_key(flow)
    expect(flow.page.get_by_role("alert").filter(has_text="looks like a copy")).to_be_visible()
    expect(flow.page).to_have_url(re.compile(r"/2fa/verify/"))


@pytest.mark.parametrize(
    "options", [PLATFORM_PASSKEY, U2F_KEY], ids=["platform_passkey", "u2f_key"]
)
def test_other_kinds_of_key_register_and_sign_in(key_flow: Flow, options: dict[str, Any]):
    flow = key_flow
    key = VirtualKey(flow.page, **options)
    account = flow.register()
    add_key(flow, "My key")
    flow.save_recovery_codes(account)
    (credential,) = key.credentials()
    registered = credential["signCount"]
    flow.sign_out()
    sign_in_with_password(flow, account)
    use_key(flow)
    flow.expect_account_page(account)
    (credential,) = key.credentials()
    assert credential["signCount"] > registered


def test_at_127_0_0_1_the_page_explains_instead_of_failing(key_flow: Flow, key_demo: DemoServer):
    """Browsers refuse WebAuthn on an IP address; the RP ID is localhost."""
    flow = key_flow
    VirtualKey(flow.page, **USB_KEY)
    flow.base_url = key_demo.url.replace("localhost", "127.0.0.1")
    account = flow.register()
    flow.press(flow.page.get_by_role("link", name="Use a security key or passkey instead"))
    flow.field("Name").fill("Blue key")
    flow.press(flow.page.get_by_role("button", name="Add security key"))
    expect(flow.page.get_by_role("alert")).to_have_text(
        "Security keys do not work at this address of the site. Use its usual address."
    )
    expect(flow.heading("Add a security key or passkey")).to_be_visible()

    # The demo links to this page at localhost: one click there, sign in, and the key is added.
    banner = flow.page.get_by_test_id("key-address")
    expect(banner).to_contain_text(f"work only at {key_demo.url}")
    audit = axe.Audit(flow)
    audit("127.0.0.1, with the link to localhost")
    # The same site at two addresses: what was asked at 127.0.0.1 stayed there.
    flow.assert_traffic_stayed_on_this_site()
    flow.traffic.requests.clear()
    flow.base_url = key_demo.url
    flow.press(banner.get_by_role("link", name="Open this page there"))
    expect(flow.page).to_have_url(re.compile(rf"^{re.escape(key_demo.url)}/login/\?next="))
    flow.field("Username").fill(account.username)
    flow.field("Password").fill(account.password)
    flow.press_button("Sign in")
    expect(flow.heading("Add a security key or passkey")).to_be_visible()
    expect(banner).to_have_count(0)
    flow.field("Name").fill("Blue key")
    flow.press_button("Add security key")
    expect(flow.heading("Save your recovery codes")).to_be_visible()
    audit.check()


# -- user verification required (W5) ------------------------------------------------------------

# A key that can verify its user but does not this time (no PIN typed, no finger on the sensor).
UNVERIFIED_KEY = {**USB_KEY, "isUserVerified": False}


@pytest.fixture(scope="module")
def uv_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo with ``TOTP_WEBAUTHN_USER_VERIFICATION = "required"``."""
    port = free_port()
    workdir = tmp_path_factory.mktemp("uv-demo")
    settings = "tests.browser.webauthn_uv_settings"
    with demo_server(workdir, settings, port=port, DEMO_PORT=str(port)) as server:
        yield dataclasses.replace(server, url=f"http://localhost:{port}")


@pytest.fixture
def uv_flow(
    request: pytest.FixtureRequest, page: Page, uv_demo: DemoServer, viewport: Viewport
) -> Iterator[Flow]:
    page.add_init_script(NO_AUTOFILL)
    yield from person_on(request, page, uv_demo, viewport)


def key_status(flow: Flow) -> Locator:
    """What the page's script says when the browser's part fails."""
    return flow.page.locator("[data-totp-webauthn-status]")


def test_with_user_verification_required_a_key_without_it_is_refused(uv_flow: Flow):
    flow = uv_flow
    for options in (U2F_KEY, UNVERIFIED_KEY):  # cannot verify its user; does not this time
        key = VirtualKey(flow.page, **options)
        flow.register()
        flow.press(flow.page.get_by_role("link", name="Use a security key or passkey instead"))
        flow.field("Name").fill("Old key")
        flow.press(flow.page.get_by_role("button", name="Add security key"))
        expect(key_status(flow)).to_have_text(
            "The security key was not used: cancelled, or it took too long."
        )
        expect(flow.heading("Add a security key or passkey")).to_be_visible()
        assert key.credentials() == []
        key.unplug()
        flow.page.context.clear_cookies()


def test_with_user_verification_required_a_verifying_key_signs_in_and_must_verify_again(
    uv_flow: Flow,
):
    flow = uv_flow
    key = VirtualKey(flow.page, **PLATFORM_PASSKEY)
    account = flow.register()
    add_key(flow, "Laptop")
    flow.save_recovery_codes(account)
    flow.sign_out()
    sign_in_with_password(flow, account)
    use_key(flow)
    flow.expect_account_page(account)

    # The same key, its user not verified this time (no fingerprint): refused.
    key.cdp.send("WebAuthn.setUserVerified", {"authenticatorId": key.id, "isUserVerified": False})
    flow.sign_out()
    sign_in_with_password(flow, account)
    flow.press(flow.page.get_by_role("button", name="Use your security key"))
    expect(key_status(flow)).to_have_text(
        "The security key was not used: cancelled, or it took too long."
    )
    expect(flow.page).to_have_url(re.compile(r"/2fa/verify/"))
    flow.open("/account/")
    expect(flow.page).to_have_url(re.compile(r"/2fa/verify/"))


# -- a lost key, the recovery code, and the key removed ------------------------------------------


def test_a_person_who_lost_their_key_signs_in_with_a_recovery_code_and_replaces_it(
    key_flow: Flow,
):
    flow = key_flow
    lost = VirtualKey(flow.page, **USB_KEY)
    account = flow.register()
    add_key(flow, "Lost key")
    flow.save_recovery_codes(account)
    flow.sign_out()
    lost.unplug()

    sign_in_with_password(flow, account)
    flow.press(flow.page.get_by_role("link", name="Lost your phone? Use a recovery code instead"))
    expect(flow.heading("Use a recovery code")).to_be_visible()
    flow.field("Recovery code").fill(account.recovery_codes[0])
    flow.press_button("Verify")
    flow.expect_account_page(account)

    # A recovery code typed just now is step-up: a new key, then the lost one removed.
    new = VirtualKey(flow.page, **USB_KEY)
    flow.open("/2fa/manage/keys/add/")
    flow.field("Name").fill("New key")
    flow.press_button("Add security key")
    expect(flow.page.get_by_role("alert").filter(has_text="“New key” was added.")).to_be_visible()
    lost_row = flow.page.locator(".totp-keys li").filter(has_text="Lost key")
    flow.press(lost_row.get_by_role("link", name="Remove"))
    expect(flow.heading("Remove “Lost key”?")).to_be_visible()
    flow.press_button("Remove")
    removed = flow.page.get_by_role("alert").filter(has_text="“Lost key” was removed.")
    expect(removed).to_be_visible()
    expect(flow.page.locator(".totp-keys li")).to_have_text([re.compile("New key")])

    flow.sign_out()
    sign_in_with_password(flow, account)
    use_key(flow)
    flow.expect_account_page(account)
    assert len(new.credentials()) == 1

    # Recovery codes still work after the key change, the used one no more.
    flow.sign_out()
    sign_in_with_password(flow, account)
    flow.press(flow.page.get_by_role("link", name="Lost your phone? Use a recovery code instead"))
    flow.field("Recovery code").fill(account.recovery_codes[0])
    flow.press_button("Verify")
    expect(flow.page.get_by_text("That recovery code is not valid")).to_be_visible()
    flow.page.wait_for_timeout(1100)  # the back-off after a wrong recovery code (R22)
    flow.field("Recovery code").fill(account.recovery_codes[1])
    flow.press_button("Verify")
    flow.expect_account_page(account)


# -- an app and a key ----------------------------------------------------------------------------


def press_key_button(flow: Flow) -> None:
    """On a code page that offers an app and a key: the key (the browser asks it at once)."""
    flow.press_button("Use your security key")


def test_app_and_key_either_signs_in_and_removing_the_key_ends_its_sessions(
    key_flow: Flow, browser: Browser, viewport: Viewport, key_demo: DemoServer
):
    flow = key_flow
    key = VirtualKey(flow.page, **USB_KEY)
    account = flow.register_and_enrol()
    flow.open("/2fa/manage/")
    flow.press(flow.page.get_by_role("link", name="Add a security key or passkey").first)
    flow.field("Name").fill("Blue key")
    flow.press_button("Add security key")
    expect(flow.page.get_by_role("alert").filter(has_text="“Blue key” was added.")).to_be_visible()

    # Either works: the key, then the app.
    flow.sign_out()
    flow.sign_in(account)
    press_key_button(flow)
    flow.expect_account_page(account)
    flow.sign_out()
    flow.sign_in(account)
    flow.enter_next_code(account)
    flow.expect_account_page(account)

    # A second browser signs in with the key (a copy of it, at its current counter).
    context = browser.new_context(**viewport.context_options())
    try:
        other = Flow(context.new_page(), key_demo.url, viewport)
        copy = VirtualKey(other.page, **USB_KEY)
        (credential,) = key.credentials()
        copied = {**credential, "rpId": "localhost"}
        copy.cdp.send("WebAuthn.addCredential", {"authenticatorId": copy.id, "credential": copied})
        sign_in_with_password(other, account)
        press_key_button(other)
        other.expect_account_page(account)

        # This browser, verified with the app, removes the key: the other is signed out.
        flow.open("/2fa/manage/")
        flow.press(flow.page.locator(".totp-keys li").get_by_role("link", name="Remove"))
        flow.press_button("Remove")
        expect(flow.page.get_by_role("alert").filter(has_text="was removed")).to_be_visible()
        flow.open("/account/")
        flow.expect_account_page(account)

        other.open("/account/")
        expect(other.page).to_have_url(re.compile(r"/login/\?next=/account/$"))
        other.assert_traffic_stayed_on_this_site()
        other.assert_no_csp_violations()
    finally:
        context.close()


# -- the same key twice --------------------------------------------------------------------------


def test_the_same_key_registered_twice_is_refused_in_the_users_language(key_flow: Flow):
    flow = key_flow
    key = VirtualKey(flow.page, **USB_KEY)
    account = flow.register()
    add_key(flow, "Blue key")
    flow.save_recovery_codes(account)
    flow.open("/2fa/manage/keys/add/")
    flow.field("Name").fill("Blue key again")
    flow.press(flow.page.get_by_role("button", name="Add security key"))
    expect(key_status(flow)).to_have_text("This security key is registered already.")

    # In German (Django's language cookie; the context's locale fixes Accept-Language): the
    # script's message is translated too.
    language = {"name": "django_language", "value": "de", "url": flow.base_url}
    flow.page.context.add_cookies([language])
    flow.open("/2fa/manage/keys/add/")
    flow.page.locator("input[name=name]").fill("Noch einmal")
    flow.press(flow.page.locator("[data-totp-webauthn-start]"))
    expect(key_status(flow)).to_have_text("Dieser Sicherheitsschlüssel ist bereits registriert.")
    assert len(key.credentials()) == 1
    flow.page.context.add_cookies([{**language, "value": "en"}])
    flow.open("/2fa/manage/")
    expect(flow.page.locator(".totp-keys li")).to_have_count(1)


# -- the admin's list of keys --------------------------------------------------------------------


def test_staff_find_a_key_in_the_admins_key_list_and_reset_its_owner(
    key_flow: Flow, browser: Browser, viewport: Viewport, key_demo: DemoServer
):
    from .test_admin import confirm, sign_in_as_staff

    flow = key_flow
    key = VirtualKey(flow.page, **USB_KEY)
    account = flow.register()
    add_key(flow, "Blue key")
    flow.save_recovery_codes(account)
    (credential,) = key.credentials()

    context = browser.new_context(**viewport.context_options())
    try:
        staff_flow = Flow(context.new_page(), key_demo.url, viewport)
        staff = sign_in_as_staff(staff_flow, viewport)
        staff_flow.open("/admin/django_totp/webauthncredential/")
        row = staff_flow.page.locator("#result_list tbody tr").filter(has_text=account.username)
        expect(row).to_contain_text("Blue key")
        audit = axe.Audit(staff_flow)
        audit("admin: security keys")
        html = staff_flow.page.content()
        assert credential["credentialId"] not in html and credential["privateKey"] not in html

        row.locator("input.action-select").check()
        staff_flow.page.select_option("select[name=action]", "reset_two_factor")
        with staff_flow.page.expect_navigation():
            # "Run" since Django 6.1, "Go" before.
            run = staff_flow.page.locator(".actions").get_by_role("button")
            staff_flow.press(run.filter(has_text=re.compile(r"^(Run|Go)$")))
        confirm(staff_flow, staff, "Reset two-factor authentication?", "Yes, reset")
        done = staff_flow.page.get_by_text("Two-factor authentication was reset for 1 user.")
        expect(done).to_be_visible()
        expect(row).to_have_count(0)  # other people's keys stay
        audit.check()
        staff_flow.assert_traffic_stayed_on_this_site()
        staff_flow.assert_no_csp_violations()
    finally:
        context.close()

    # The person's session, verified with the key, is over.
    flow.open("/account/")
    expect(flow.page).to_have_url(re.compile(r"/login/\?next=/account/$"))
