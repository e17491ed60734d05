"""The check every browser test ends with: the page's Content-Security-Policy held.

The ``flow`` fixture calls ``Flow.assert_no_csp_violations`` after each test, so every page a
test visits, the admin's included, is checked; this tests the check itself.
"""

from __future__ import annotations

import django
import pytest
from playwright.sync_api import Page, Route

from .flow import DESKTOP, Flow

SITE = "http://csp.test"
STRICT = "default-src 'self'; script-src 'self'; style-src 'self'"
FAULTS = (
    '<html lang="en"><head><title>t</title></head><body><main><h1>Faults</h1>'
    '<p style="color: red">inline style</p><script>document.title = "ran";</script>'
    "</main></body></html>"
)


def serve(page: Page, policy: str | None) -> None:
    headers = {"Content-Security-Policy": policy} if policy else {}

    def fulfil(route: Route) -> None:
        route.fulfill(status=200, headers=headers, content_type="text/html", body=FAULTS)

    page.route(SITE + "/", fulfil)


@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_the_check_reports_what_the_policy_blocked(page: Page):
    flow = Flow(page, SITE, DESKTOP)
    serve(page, STRICT)
    flow.open("/")
    assert page.title() == "t"  # the inline script did not run
    with pytest.raises(AssertionError) as failure:
        flow.assert_no_csp_violations()
    report = str(failure.value)
    assert report.startswith("Content-Security-Policy violations:")
    # From the securitypolicyviolation events, with where and what ...
    assert f"page: {SITE}/, directive: style-src-attr, blocked: inline" in report
    assert f"page: {SITE}/, directive: script-src-elem, blocked: inline" in report
    # ... and from the console, which a page that goes on at once cannot lose.
    assert "console at" in report and "The action has been blocked." in report


@pytest.mark.skipif(django.VERSION < (6, 0), reason="the demo has a policy from Django 6.0 on")
@pytest.mark.parametrize("viewport", [DESKTOP], ids=["desktop"])
def test_the_check_reports_a_page_without_the_policy(page: Page):
    flow = Flow(page, SITE, DESKTOP)
    serve(page, None)
    flow.open("/")
    with pytest.raises(AssertionError, match="pages without the demo's Content-Security-Policy"):
        flow.assert_no_csp_violations()
