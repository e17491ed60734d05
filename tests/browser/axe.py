"""axe-core in the page: which accessibility rules a page breaks, and how badly.

``vendor/axe.min.js`` is axe-core 4.14.1 from the npm registry (``npm pack axe-core@4.14.1``),
unchanged, under the Mozilla Public License 2.0 (``vendor/LICENSE``). Vendored rather than
installed by npm so that the tests run the same rules on every machine and need no Node.js.
To update: replace the file and its licenses, and change ``VERSION`` and ``SHA256`` below.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from .flow import Flow

VERSION = "4.14.1"
SHA256 = "29348999450cdf2849a8e70b7912fc2da85a849da39c0d0d5394f51d4a9ed95c"
SOURCE = Path(__file__).parent / "vendor" / "axe.min.js"
# axe's impact levels are minor, moderate, serious and critical.
BLOCKING = ("serious", "critical")

Violation = dict[str, Any]


@cache
def source() -> str:
    data = SOURCE.read_bytes()
    assert hashlib.sha256(data).hexdigest() == SHA256, f"{SOURCE} is not axe-core {VERSION}"
    return data.decode()


def audit(page: Page) -> list[Violation]:
    """Run every axe rule on the page as it is now; its violations, worst first."""
    if not page.evaluate("() => typeof window.axe === 'object'"):
        # Evaluated from the DevTools side: a <script> added to the page would break its
        # Content-Security-Policy (no inline scripts), and the page's policy does not apply.
        page.evaluate(source())
    assert page.evaluate("() => axe.version") == VERSION
    results = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    order = ["critical", "serious", "moderate", "minor"]
    return sorted(results["violations"], key=lambda v: order.index(v["impact"] or "minor"))


def blocking(violations: list[Violation]) -> list[Violation]:
    return [violation for violation in violations if violation["impact"] in BLOCKING]


def describe(found: dict[str, list[Violation]]) -> str:
    """Violations by page, readable in a test report."""
    lines = []
    for where, violations in found.items():
        for violation in violations:
            lines.append(
                f"{where}: [{violation['impact']}] {violation['id']}: {violation['help']}"
                f" ({violation['helpUrl']})"
            )
            for node in violation["nodes"]:
                target = " ".join(str(part) for part in node["target"])
                summary = " ".join((node.get("failureSummary") or "").split())
                lines.append(f"    {target}\n      {node['html'][:200]}\n      {summary}")
    return "\n".join(lines)


class Audit:
    """axe's findings page by page along one walk through the site.

    Call it with a name for the page the browser shows now; ``check()`` at the end fails on any
    serious or critical violation and prints the rest. Each page is also checked for sideways
    scrolling, which on a phone hides part of it.
    """

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self.found: dict[str, list[Violation]] = {}

    def __call__(self, where: str) -> None:
        self.flow.assert_fits_the_screen()
        self.found[f"{where} ({self.flow.page.url})"] = audit(self.flow.page)

    def check(self) -> None:
        minor = {
            where: [v for v in found if v["impact"] not in BLOCKING]
            for where, found in self.found.items()
        }
        if any(minor.values()):
            print("Minor and moderate axe findings (not failures):\n" + describe(minor))
        serious = {where: blocking(found) for where, found in self.found.items()}
        serious = {where: found for where, found in serious.items() if found}
        assert not serious, "serious or critical axe violations:\n" + describe(serious)
