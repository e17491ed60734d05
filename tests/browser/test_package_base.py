"""django_totp's pages in their own ``base.html``, as on a site that does not override it.

The other browser tests see them in the demo's layout. Here the same demo runs with the
package's base (``package_base_settings.py``): its stylesheet is a static file, so under the
demo's strict Content-Security-Policy the pages keep their look, and the ``flow`` fixture fails
the test on any violation.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from .flow import Flow
from .server import DemoServer, demo_server

PX_PER_MODULE = 5  # django_totp/qr.py


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    workdir = tmp_path_factory.mktemp("package-base")
    with demo_server(workdir, "tests.browser.package_base_settings") as server:
        yield server


def test_the_packages_own_pages_keep_their_look_under_the_policy(flow: Flow):
    account = flow.register()
    stylesheet = flow.page.locator('link[rel="stylesheet"]')
    expect(stylesheet).to_have_count(1)
    expect(stylesheet).to_have_attribute("href", "/static/django_totp/totp.css")
    expect(flow.page.locator("body")).to_have_css("background-color", "rgb(246, 247, 249)")
    flow.assert_fits_the_screen()

    flow.start_enrolment()
    flow.scan_qr(account)
    qr = flow.page.get_by_role("img", name="QR code to scan with your authenticator app")
    box = qr.bounding_box()
    view_box = qr.get_attribute("viewBox")
    assert view_box is not None
    side = PX_PER_MODULE * int(view_box.split()[2])
    assert box is not None and (box["width"], box["height"]) == (side, side), box
    flow.assert_fits_the_screen()

    step = account.app.step()
    flow.enter_code(account.app.code(step), "Activate")
    account.last_step = step
    expect(flow.heading("Save your recovery codes")).to_be_visible()
    codes = flow.page.locator("#totp-recovery-codes code").all_inner_texts()
    assert flow.download_recovery_codes().splitlines()[2:] == codes
    assert flow.copy_recovery_codes().splitlines() == codes
    flow.print_recovery_codes()
    flow.press(flow.page.get_by_role("link", name="I have saved my codes, continue"))
    flow.expect_account_page(account)
