"""A person registers, scans the QR code, signs out and in again: Chromium at two viewports."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from .flow import INVALID, REPLAYED, Account, Flow


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
    expect(flow.page.get_by_test_id("device")).to_have_count(1)


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


def test_the_back_button_after_enrolment_never_shows_the_secret_again(
    flow: Flow, enrolled: Account
):
    flow.page.go_back()  # to the QR code page, which the site marked no-store (R6)
    expect(flow.heading("Set up two-factor authentication")).to_be_visible()
    expect(flow.page.get_by_role("img", name=re.compile("QR code"))).to_have_count(0)
    expect(flow.page.get_by_test_id("totp-secret")).to_have_count(0)
    assert enrolled.app.secret not in flow.page.content()
