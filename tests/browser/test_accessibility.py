"""axe-core on every page a person meets, and the code fields by keyboard.

To check a new page, open it at the point of the walk where a person reaches it and name it,
``audit("name")``; a new link on the management page is one more line in ``MANAGE_PAGES``.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from . import axe
from .flow import DESKTOP, INVALID, RECOVERY_INVALID, Flow

# The pages linked from the management page: link text -> heading.
MANAGE_PAGES = {
    "Add another authenticator app": "Set up two-factor authentication",
    "Rename": "Rename authenticator app",
    "Replace with a new phone": "Set up two-factor authentication",
    "Remove": re.compile(r"^Remove .*\?$"),
    "Make new recovery codes": "Make new recovery codes",
    "Forget all remembered browsers": "Forget remembered browsers",
}


def test_no_page_a_person_meets_has_serious_or_critical_axe_violations(flow: Flow):
    audit = axe.Audit(flow)
    flow.open("/")
    audit("home")
    flow.open("/register/")
    audit("register")
    account = flow.register()
    audit("enrolment: start")
    flow.start_enrolment()
    audit("enrolment: QR code")
    flow.read_key_by_hand()
    audit("enrolment: key shown for typing")
    key = flow.scan_qr(account)
    flow.enter_code(key.wrong_code(around=key.step()), "Activate")
    expect(flow.page.get_by_text(INVALID)).to_be_visible()
    audit("enrolment: wrong code")
    flow.enter_next_code_patiently(account, "Activate")
    expect(flow.heading("Save your recovery codes")).to_be_visible()
    audit("recovery codes, shown once")
    flow.save_recovery_codes(account)
    audit("account")

    flow.press(flow.page.get_by_role("link", name="Manage two-factor authentication"))
    expect(flow.heading("Two-factor authentication")).to_be_visible()
    audit("manage")
    for link, heading in MANAGE_PAGES.items():
        flow.press(flow.page.get_by_role("main").get_by_role("link", name=link, exact=True))
        expect(flow.heading(heading)).to_be_visible()
        audit(f"manage: {link}")
        flow.open("/2fa/manage/")
    flow.open("/2fa/disable/")
    expect(flow.heading("Turn off two-factor authentication")).to_be_visible()
    audit("turn off (refused: the demo requires 2FA)")

    flow.sign_out()
    audit("home, signed out")
    flow.open("/login/")
    audit("sign-in")
    flow.sign_in(account)
    audit("verify")
    flow.enter_code(key.wrong_code(around=key.step()))
    expect(flow.page.get_by_text(INVALID)).to_be_visible()
    audit("verify: wrong code")
    flow.use_recovery_code("not-a-code")
    expect(flow.page.get_by_text(RECOVERY_INVALID)).to_be_visible()
    audit("recovery code: wrong code")
    audit.check()


# A keyboard is a desktop's: a phone's "Go" key submits like Enter, but is not what is tested.
@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_every_code_field_has_focus_on_load_and_enter_submits_it(flow: Flow):
    keyboard = flow.page.keyboard
    account = flow.register()
    flow.start_enrolment()
    key = flow.scan_qr(account)
    expect(flow.code_field).to_be_focused()
    step = key.step()
    with flow.page.expect_navigation():
        keyboard.type(key.code(step))
        keyboard.press("Enter")
    account.last_step = step
    flow.save_recovery_codes(account)

    flow.sign_out()
    flow.open("/login/")
    expect(flow.field("Username")).to_be_focused()
    with flow.page.expect_navigation():
        keyboard.type(account.username)
        keyboard.press("Tab")
        keyboard.type(account.password)
        keyboard.press("Enter")
    flow.expect_verify_page()
    expect(flow.code_field).to_be_focused()
    with flow.page.expect_navigation():
        keyboard.type(account.next_code()[1])
        keyboard.press("Enter")
    flow.expect_account_page(account)

    flow.sign_out()
    flow.sign_in(account)
    flow.press(flow.page.get_by_role("link", name="Lost your phone? Use a recovery code"))
    expect(flow.field("Recovery code")).to_be_focused()
    with flow.page.expect_navigation():
        keyboard.type(account.recovery_codes[0])
        keyboard.press("Enter")
    flow.expect_account_page(account)


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_the_audit_reports_what_axe_finds(page):
    """The harness itself: a page with known faults gives blocking, readable findings."""
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><h1>Faults</h1>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<input type="text" name="code"></main></body></html>'
    )
    audit = axe.Audit(Flow(page, "", DESKTOP))
    audit("faults")
    with pytest.raises(AssertionError) as failure:
        audit.check()
    report = str(failure.value)
    assert report.startswith("serious or critical axe violations:")
    assert "faults (about:blank): [critical] image-alt: Images must have alternative text" in report
    assert "faults (about:blank): [critical] label: Form elements must have labels" in report
    assert '<input type="text" name="code">' in report
