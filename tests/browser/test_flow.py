"""A person registers, scans the QR code, signs out and in again: Chromium at two viewports.

Then the ways it can go wrong or differ: a wrong code, a replayed code, the Back button, a lost
phone, a browser the site remembers.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import expect

from .flow import DESKTOP, INVALID, RECOVERY_INVALID, REPLAYED, Account, Flow


def test_a_person_registers_scans_the_qr_code_and_reaches_their_account(flow: Flow):
    account = flow.register()
    flow.assert_fits_the_screen()
    flow.start_enrolment()
    flow.assert_fits_the_screen()

    key = flow.scan_qr(account)
    assert key.issuer == "django-totp demo"
    assert key.account == account.username
    assert len(key.secret) >= 32 and "=" not in key.secret, key.secret
    assert len(key.secret_bytes) >= 20  # 160 bits (R2)
    assert (key.digits, key.period, key.algorithm) == (6, 30, "SHA1")
    assert flow.read_key_by_hand() == key.secret

    flow.confirm_enrolment(account)
    flow.assert_fits_the_screen()
    flow.save_recovery_codes(account)
    flow.assert_fits_the_screen()
    expect(flow.page.get_by_test_id("device")).to_have_count(1)


def test_the_recovery_codes_can_be_downloaded_copied_and_printed(flow: Flow):
    account = flow.register()
    flow.start_enrolment()
    flow.scan_qr(account)
    flow.confirm_enrolment(account)
    codes = flow.page.locator("#totp-recovery-codes code").all_inner_texts()
    assert len(codes) == 10

    downloaded = flow.download_recovery_codes()
    title = f"Recovery codes for django-totp demo: {account.username}"
    assert downloaded.splitlines() == [title, "", *codes]
    assert flow.copy_recovery_codes().splitlines() == codes
    flow.print_recovery_codes()
    flow.page.emulate_media(media="print")  # the codes on paper, without the buttons
    expect(flow.page.locator("#totp-recovery-codes")).to_be_visible()
    expect(flow.page.get_by_role("button", name="Print")).to_be_hidden()
    flow.page.emulate_media(media="screen")
    flow.save_recovery_codes(account)


def test_signing_in_again_takes_the_next_code_from_the_app(flow: Flow, enrolled: Account):
    flow.sign_out()
    flow.sign_in(enrolled)
    flow.assert_fits_the_screen()
    flow.enter_next_code(enrolled)
    flow.expect_account_page(enrolled)


def test_a_wrong_code_shows_the_error_and_the_right_one_then_works(flow: Flow, enrolled: Account):
    flow.sign_out()
    flow.sign_in(enrolled)
    flow.enter_code(enrolled.app.wrong_code(around=enrolled.app.step()))
    flow.expect_verify_page()
    expect(flow.page.get_by_text(INVALID)).to_be_visible()
    expect(flow.code_field).to_have_value("")
    expect(flow.code_field).to_have_attribute("aria-invalid", "true")
    expect(flow.code_field).to_have_accessible_description(re.compile(re.escape(INVALID)))
    expect(flow.code_field).to_be_focused()  # ready for the next try

    flow.enter_next_code_patiently(enrolled)
    flow.expect_account_page(enrolled)


def test_the_code_used_to_enrol_is_refused_when_typed_again(flow: Flow, enrolled: Account):
    flow.sign_out()
    flow.sign_in(enrolled)
    assert enrolled.last_step is not None
    flow.enter_code(enrolled.app.code(enrolled.last_step))
    flow.expect_verify_page()
    expect(flow.page.get_by_text(REPLAYED)).to_be_visible()
    expect(flow.code_field).to_have_accessible_description(re.compile(re.escape(REPLAYED)))


# The history and cache rules are the browser's, the same at any window size.
@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_going_back_after_enrolment_shows_neither_the_secret_nor_the_recovery_codes(
    flow: Flow, enrolled: Account
):
    def shown() -> str:
        return flow.page.content()

    # One step back is the recovery codes, the answer to a POST marked no-store (R6, R22):
    # Chromium does not show it from its cache and does not send the form again.
    with pytest.raises(PlaywrightError, match="ERR_CACHE_MISS"):
        flow.page.go_back()
    flow.page.wait_for_url(re.compile(r"^chrome-error://"))  # the browser's own error page
    flow.page.wait_for_load_state()
    assert not any(code in shown() for code in enrolled.recovery_codes)

    # Two steps back is the QR code page, also no-store: asked for again, it has no secret.
    flow.page.go_back()
    expect(flow.heading("Set up two-factor authentication")).to_be_visible()
    expect(flow.page.get_by_role("img", name=re.compile("QR code"))).to_have_count(0)
    expect(flow.page.get_by_test_id("totp-secret")).to_have_count(0)
    assert enrolled.app.secret not in shown()


def test_without_the_phone_a_recovery_code_signs_in_once(flow: Flow, enrolled: Account):
    code = enrolled.recovery_codes[0]
    flow.sign_out()
    flow.sign_in(enrolled)
    flow.use_recovery_code(code)
    flow.expect_account_page(enrolled)
    expect(flow.page.get_by_role("alert").filter(has_text="9 recovery codes left")).to_be_visible()

    flow.sign_out()
    flow.sign_in(enrolled)
    flow.use_recovery_code(code)
    expect(flow.heading("Use a recovery code")).to_be_visible()
    expect(flow.page.get_by_text(RECOVERY_INVALID)).to_be_visible()
    expect(flow.field("Recovery code")).to_be_focused()


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_a_remembered_browser_skips_only_the_code_until_forgotten(flow: Flow, enrolled: Account):
    flow.sign_out()
    flow.sign_in(enrolled)
    flow.page.get_by_role("checkbox", name=re.compile("^Don't ask again on this browser")).check()
    flow.enter_next_code(enrolled)
    flow.expect_account_page(enrolled)
    (cookie,) = [c for c in flow.page.context.cookies() if c["name"] == "totp_remember"]
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax", cookie

    flow.sign_out()
    flow.sign_in(enrolled, asked_for_code=False)  # the password is still asked for

    # Changing 2FA needs a code typed now: the remembered browser skipped only the sign-in (R28).
    flow.press(flow.page.get_by_role("link", name="Manage two-factor authentication"))
    expect(flow.page.get_by_text("Enter a code from your app to confirm it's you.")).to_be_visible()
    flow.enter_next_code(enrolled)
    flow.press(flow.page.get_by_role("link", name="Forget all remembered browsers"))
    flow.press_button("Forget all browsers")
    flow.sign_out()
    flow.sign_in(enrolled)  # asked for the code again
