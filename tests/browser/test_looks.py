"""The 2FA pages look finished on any site (issue 13), measured in Chromium.

Three shapes of site, each a demo server of its own:

- **no framework**: django_totp's own ``base.html`` and ``totp.css`` alone
  (``package_base_settings.py``; the forms in crispy's bootstrap5 markup, no Bootstrap CSS);
- **bootstrap5**: the demo, with crispy's bootstrap5 pack and Bootstrap 5;
- **bootstrap3**: a Bootstrap 3 site with crispy's bootstrap3 pack (``bootstrap3_settings.py``),
  where the error text used not to be red and "Can't scan?" not to look clickable.

On each, at a phone and a desktop viewport, the setup page and the verify page with a wrong
code: the error text is red with AA contrast against what is behind it, and marked by more than
colour; "Can't scan?" has a pointer, an underline or link colour, and a visible focus ring from
the keyboard; axe finds nothing serious. ``TOTP_LOOKS_SCREENSHOTS=DIR`` also saves each page.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, expect

from . import axe
from .flow import INVALID, Flow
from .server import DemoServer, demo_server

SHAPES = {
    "no-framework": "tests.browser.package_base_settings",
    "bootstrap5": "tests.browser.settings",
    "bootstrap3": "tests.browser.bootstrap3_settings",
}
AA = 4.5  # WCAG 2 AA contrast for normal text

# The computed look of an element: colours as [r, g, b, a], the background the first opaque
# one behind it, and the widest coloured left border of it or its ancestors inside its form.
LOOK = """
(element) => {
  const rgba = (value) => {
    const parts = value.match(/[\\d.]+/g).map(Number);
    return parts.length === 3 ? [...parts, 1] : parts;
  };
  let background = [255, 255, 255, 1];
  for (let node = element; node instanceof Element; node = node.parentElement) {
    const colour = rgba(getComputedStyle(node).backgroundColor);
    if (colour[3] > 0.99) { background = colour; break; }
  }
  let bar = null;
  for (let node = element; node instanceof Element; node = node.parentElement) {
    const style = getComputedStyle(node);
    if (style.borderLeftStyle !== "none" && parseFloat(style.borderLeftWidth) >= 2) {
      bar = {width: parseFloat(style.borderLeftWidth), colour: rgba(style.borderLeftColor)};
      break;
    }
    if (node.tagName === "FORM") break;
  }
  const style = getComputedStyle(element);
  const parent = getComputedStyle(element.parentElement);
  return {
    colour: rgba(style.color),
    parentColour: rgba(parent.color),
    background,
    bar,
    cursor: style.cursor,
    decoration: style.textDecorationLine,
    outlineStyle: style.outlineStyle,
    outlineWidth: parseFloat(style.outlineWidth),
    outlineColour: rgba(style.outlineColor),
    focusVisible: element.matches(":focus-visible"),
  };
}
"""


def luminance(colour: list[float]) -> float:
    def channel(value: float) -> float:
        value /= 255
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(value) for value in colour[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(one: list[float], other: list[float]) -> float:
    light, dark = sorted((luminance(one), luminance(other)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def reddish(colour: list[float]) -> bool:
    r, g, b = colour[:3]
    return r >= 120 and r >= 2 * g and r >= 2 * b


def look(target: Locator) -> dict[str, Any]:
    return target.evaluate(LOOK)


@pytest.fixture(scope="module", params=list(SHAPES), ids=list(SHAPES))
def shape(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="module")
def demo(shape: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    with demo_server(tmp_path_factory.mktemp(shape), SHAPES[shape]) as server:
        yield server


def save(flow: Flow, shape: str, name: str) -> None:
    directory = os.environ.get("TOTP_LOOKS_SCREENSHOTS")
    if directory:
        path = Path(directory) / f"{shape}-{flow.viewport.name}-{name}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        flow.page.screenshot(path=path, full_page=True)


def assert_looks_like_an_error(flow: Flow) -> None:
    text = flow.page.get_by_role("main").get_by_text(INVALID)
    expect(text).to_be_visible()
    found = look(text)
    assert reddish(found["colour"]), f"error text is not red: {found}"
    ratio = contrast(found["colour"], found["background"])
    assert ratio >= AA, f"error text contrast {ratio:.2f} < {AA}: {found}"
    # Not by colour alone: a bar beside the text.
    bar = found["bar"]
    assert bar is not None and reddish(bar["colour"]), f"no bar marks the error: {found}"


def assert_cant_scan_looks_clickable(flow: Flow) -> Locator:
    summary = flow.page.get_by_text("Can't scan? Enter the key by hand")
    expect(summary).to_be_visible()
    found = look(summary)
    assert found["cursor"] == "pointer", found
    linkish = "underline" in found["decoration"] or found["colour"] != found["parentColour"]
    assert linkish, f"'Can't scan?' does not look like a link: {found}"
    ratio = contrast(found["colour"], found["background"])
    assert ratio >= AA, f"'Can't scan?' contrast {ratio:.2f} < {AA}: {found}"
    # From the keyboard: Tab until it has focus, then the ring shows.
    for _ in range(40):
        flow.page.keyboard.press("Tab")
        if summary.evaluate("(element) => element === document.activeElement"):
            break
    else:
        raise AssertionError("'Can't scan?' never took the keyboard's focus")
    focused = look(summary)
    assert focused["focusVisible"], focused
    assert focused["outlineStyle"] != "none" and focused["outlineWidth"] >= 2, focused
    ring = contrast(focused["outlineColour"], focused["background"])
    assert ring >= 3, f"focus ring contrast {ring:.2f} < 3 (WCAG 1.4.11): {focused}"
    return summary


def test_the_setup_and_verify_pages_look_finished(flow: Flow, shape: str):
    audit = axe.Audit(flow)
    account = flow.register()
    flow.start_enrolment()
    key = flow.scan_qr(account)
    assert_cant_scan_looks_clickable(flow)
    save(flow, shape, "setup")
    audit("setup")
    flow.page.keyboard.press("Enter")  # opens the disclosure, as a click does
    expect(flow.page.get_by_test_id("totp-secret")).to_be_visible()
    audit("setup: key shown")
    flow.enter_code(key.wrong_code(around=key.step()), "Activate")
    assert_looks_like_an_error(flow)
    save(flow, shape, "setup-wrong-code")
    audit("setup: wrong code")

    flow.enter_next_code_patiently(account, "Activate")
    expect(flow.heading("Save your recovery codes")).to_be_visible()
    save(flow, shape, "recovery-codes")
    audit("recovery codes")
    flow.save_recovery_codes(account)
    flow.sign_out()
    flow.sign_in(account)
    flow.enter_code(key.wrong_code(around=key.step()))
    assert_looks_like_an_error(flow)
    save(flow, shape, "verify-wrong-code")
    audit("verify: wrong code")
    audit.check()
