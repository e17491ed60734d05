"""The admin's 2FA panel on a user's page, and its confirmation pages, in Chromium.

A person's device has a failed attempt; a superuser signs in (enrolling an app of their own,
as the demo requires of everyone), unlocks the device and then resets the person's 2FA from the
panel, and finds the person on the roll-out page. Like every browser test, it fails on any
Content-Security-Policy violation: the admin's pages run under the demo's strict policy too.
"""

from __future__ import annotations

import re

from playwright.sync_api import expect

from . import axe
from .flow import INVALID, Account, Flow, Viewport
from .server import STAFF_PASSWORD


def sign_in_as_staff(flow: Flow, viewport: Viewport) -> Account:
    """The demo's superuser for this viewport signs in and, the first time, enrols."""
    staff = Account(f"staff-{viewport.name}", password=STAFF_PASSWORD)
    flow.open("/login/")
    flow.field("Username").fill(staff.username)
    flow.field("Password").fill(staff.password)
    flow.press_button("Sign in")
    expect(flow.heading("Set up two-factor authentication")).to_be_visible()
    flow.enrol(staff)
    return staff


def confirm(flow: Flow, staff: Account, title: str, button: str) -> None:
    """The confirmation page (after the code page, if the admin asks for a code first)."""
    heading = flow.heading(re.compile(f"^({re.escape(title)}|Enter your authentication code)$"))
    expect(heading).to_be_visible()
    if heading.inner_text() != title:
        flow.enter_next_code(staff)
    expect(flow.heading(title)).to_be_visible()
    flow.press_button(button)


def test_staff_unlock_and_reset_a_persons_2fa_from_the_admin_panel(
    flow: Flow, enrolled: Account, viewport: Viewport
):
    flow.sign_out()
    flow.sign_in(enrolled)
    flow.enter_code(enrolled.app.wrong_code(around=enrolled.app.step()))
    expect(flow.page.get_by_text(INVALID)).to_be_visible()
    flow.page.context.clear_cookies()  # Ana leaves; a superuser signs in on this browser

    staff = sign_in_as_staff(flow, viewport)
    flow.open("/admin/auth/user/")
    flow.press(flow.page.get_by_role("link", name=enrolled.username, exact=True))
    panel = flow.page.locator("#totp-user-panel")
    expect(panel).to_contain_text("10 recovery codes left.")

    flow.press(panel.get_by_role("link", name="Unlock (clear failed attempts)"))
    confirm(flow, staff, "Unlock these devices?", "Yes, unlock")
    expect(flow.page.get_by_text("1 device unlocked.")).to_be_visible()
    expect(panel.get_by_role("link", name="Unlock (clear failed attempts)")).to_have_count(0)

    flow.press(panel.get_by_role("link", name="Reset two-factor authentication"))
    confirm(flow, staff, "Reset two-factor authentication?", "Yes, reset")
    expect(flow.page.get_by_text("Two-factor authentication was reset for 1 user.")).to_be_visible()
    expect(panel).to_contain_text("This user has not set up two-factor authentication.")

    # The demo requires 2FA of everyone: the person is now on the roll-out page, linked.
    flow.open("/admin/django_totp/")
    flow.press(flow.page.get_by_role("link", name="Two-factor roll-out"))
    expect(flow.heading("Two-factor roll-out")).to_be_visible()
    person = flow.page.get_by_role("link", name=enrolled.username, exact=True)
    expect(person).to_have_attribute("href", re.compile(r"^/admin/auth/user/\d+/change/$"))
    audit = axe.Audit(flow)
    audit("admin: roll-out")
    audit.check()
