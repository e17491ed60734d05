"""The README's screenshots, taken from the real demo in Chromium: ``make screenshots``.

Usage: ``python -m tests.browser.screenshots DIRECTORY``. Starts the demo on a throw-away
database, registers a person at each viewport of the browser tests, and saves the enrolment and
verify pages as ``{page}-{viewport}.png``: phone pages whole, desktop pages as the window shows
them. One CSS pixel per image pixel keeps each file small.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import Browser, sync_playwright

from .flow import VIEWPORTS, Flow, launch_chromium
from .server import demo_server, free_port

MAX_BYTES = 100_000
PEOPLE = {"phone": "ana", "desktop": "ben"}  # one account per viewport on one database


def take(browser: Browser, base_url: str, directory: Path) -> list[Path]:
    """Save the screenshots into ``directory``; the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for viewport in VIEWPORTS:
        context = browser.new_context(**viewport.context_options())
        try:
            flow = Flow(context.new_page(), base_url, viewport)
            account = flow.register(PEOPLE[viewport.name])
            flow.start_enrolment()
            written.append(directory / f"enrolment-{viewport.name}.png")
            flow.page.screenshot(path=written[-1], full_page=viewport.phone)
            flow.scan_qr(account)
            flow.confirm_enrolment(account)
            flow.save_recovery_codes(account)
            flow.sign_out()
            flow.sign_in(account)
            written.append(directory / f"verify-{viewport.name}.png")
            flow.page.screenshot(path=written[-1], full_page=viewport.phone)
        finally:
            context.close()
    return written


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    directory = Path(argv[0])
    # At localhost, as the README says to open the demo (at 127.0.0.1 it shows a link there).
    port = free_port()
    with (
        tempfile.TemporaryDirectory() as workdir,
        demo_server(Path(workdir), port=port, DEMO_PORT=str(port)),
        sync_playwright() as playwright,
    ):
        browser = launch_chromium(playwright)
        written = take(browser, f"http://localhost:{port}", directory)
        browser.close()
    too_big = False
    for path in written:
        size = path.stat().st_size
        too_big = too_big or size > MAX_BYTES
        print(f"{path}: {size // 1000} kB{' (too big)' if size > MAX_BYTES else ''}")
    return 1 if too_big else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
