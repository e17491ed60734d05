"""axe-core on every page of the sign-in flow, and the code pages by keyboard alone."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from . import axe
from .flow import DESKTOP, INVALID, Flow


class Audit:
    """axe's findings page by page along one walk through the site."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.found: dict[str, list[axe.Violation]] = {}

    def __call__(self, where: str) -> None:
        self.flow.assert_fits_the_screen()
        self.found[f"{where} ({self.flow.page.url})"] = axe.audit(self.flow.page)

    def check(self) -> None:
        minor = {
            where: [v for v in found if v not in axe.blocking(found)]
            for where, found in self.found.items()
        }
        if any(minor.values()):
            print("Minor and moderate axe findings (not failures):\n" + axe.describe(minor))
        blocking = {where: axe.blocking(found) for where, found in self.found.items()}
        blocking = {where: found for where, found in blocking.items() if found}
        assert not blocking, "serious or critical axe violations:\n" + axe.describe(blocking)


def test_no_page_of_the_sign_in_flow_has_serious_or_critical_axe_violations(flow: Flow):
    audit = Audit(flow)
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
    flow.expect_account_page(account)
    audit("account")
    flow.sign_out()
    audit("home, signed out")
    flow.open("/login/")
    audit("sign-in")
    flow.sign_in(account)
    audit("verify")
    flow.enter_code(key.wrong_code(around=key.step()))
    expect(flow.page.get_by_text(INVALID)).to_be_visible()
    audit("verify: wrong code")
    audit.check()


def test_by_keyboard_alone_the_code_field_has_focus_on_load_and_enter_submits(flow: Flow):
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
    flow.expect_account_page(account)

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


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_the_audit_reports_what_axe_finds(page):
    """The harness itself: a page with known faults gives blocking, readable findings."""
    page.set_content(
        '<html lang="en"><head><title>t</title></head><body><main><h1>Faults</h1>'
        '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=">'
        '<input type="text" name="code"></main></body></html>'
    )
    found = axe.blocking(axe.audit(page))
    assert {violation["id"] for violation in found} >= {"image-alt", "label"}
    report = axe.describe({"faults": found})
    assert "faults: [critical] image-alt:" in report
    assert '<input type="text" name="code">' in report
    print(report)
