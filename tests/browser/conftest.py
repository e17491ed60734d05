"""Fixtures for the browser tests (run with ``--ds=demo_project.settings``; `make test` does).

``demo`` is the demo site in a gunicorn process of its own (see ``server.py``), one per run;
``browser`` is Debian's Chromium, one per run; every test gets a new browser context (no
cookies) at each viewport in ``flow.VIEWPORTS`` and a ``flow`` to act as a person would.
"""

from __future__ import annotations

import dataclasses
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from .flow import CHROMIUM, VIEWPORTS, Account, Flow, Viewport, launch_chromium
from .server import DemoServer, demo_server, free_port

TIMEOUT_MS = 10_000
FAILED = pytest.StashKey[bool]()  # set on each test by the hook below, read by fixtures
TOOLS = {CHROMIUM: "chromium", "zbarimg": "zbar-tools", "oathtool": "oathtool"}


@pytest.fixture(scope="session")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with demo_server(tmp_path_factory.mktemp("demo")) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    missing = [package for tool, package in TOOLS.items() if shutil.which(tool) is None]
    if missing:
        pytest.fail(f"missing Debian packages {missing}: run `make browser-deps`")
    # The same patience for assertions as for actions, for a CI machine under load.
    expect.set_options(timeout=TIMEOUT_MS)
    with sync_playwright() as playwright:
        chromium = launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture(params=VIEWPORTS, ids=lambda viewport: viewport.name)
def viewport(request: pytest.FixtureRequest) -> Viewport:
    return request.param


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):
    report = yield
    if report.when == "call":
        item.stash[FAILED] = report.failed
    return report


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, viewport: Viewport, tmp_path: Path
) -> Iterator[Page]:
    context = browser.new_context(**viewport.context_options())
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    try:
        yield page
        if request.node.stash.get(FAILED, False):
            # Shown under "Captured stdout teardown" of the failed test.
            path = tmp_path / "failure.png"
            page.screenshot(path=path, full_page=True)
            print(f"The page at {page.url} when the test failed: {path}")
    finally:
        context.close()


def person_on(
    request: pytest.FixtureRequest, page: Page, demo: DemoServer, viewport: Viewport
) -> Iterator[Flow]:
    """A ``Flow`` on ``demo`` for a fixture to yield from; after a passed test, the checks
    every test gets (traffic, CSP), after a failed one the server's log."""
    person = Flow(page, demo.url, viewport)
    yield person
    if request.node.stash.get(FAILED, False):
        print(f"The demo server's log ({demo.log}) ends with:\n{demo.log_tail()}")
    else:
        person.assert_traffic_stayed_on_this_site()
        person.assert_no_csp_violations()


@pytest.fixture
def flow(
    request: pytest.FixtureRequest, page: Page, demo: DemoServer, viewport: Viewport
) -> Iterator[Flow]:
    yield from person_on(request, page, demo, viewport)


@pytest.fixture
def enrolled(flow: Flow) -> Account:
    """A person who registered and set up their app; the browser is on the account page."""
    return flow.register_and_enrol()


# A browser without passkey autofill (conditional mediation). The demo has passkey sign-in on,
# and with autofill Chromium's virtual authenticator picks a passkey offered in the username
# field as soon as the login page loads: a person is asked first.
NO_AUTOFILL = "PublicKeyCredential.isConditionalMediationAvailable = () => Promise.resolve(false);"


@pytest.fixture(scope="session")
def key_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    """The demo as `make demo` serves it, for security keys: its own WebAuthn settings, given
    its port, at localhost."""
    port = free_port()
    origin = f"http://localhost:{port}"
    workdir = tmp_path_factory.mktemp("key-demo")
    with demo_server(workdir, port=port, DEMO_PORT=str(port)) as server:
        # The server answers at 127.0.0.1; the browser goes to the origin the settings name.
        yield dataclasses.replace(server, url=origin)


@pytest.fixture
def key_flow(
    request: pytest.FixtureRequest, page: Page, key_demo: DemoServer, viewport: Viewport
) -> Iterator[Flow]:
    """A person at the key demo, who signs in with the password first, then the key."""
    page.add_init_script(NO_AUTOFILL)
    yield from person_on(request, page, key_demo, viewport)
