"""What a person does on the demo site, step by step, in a real browser.

The steps are small on purpose so that a test can stop between two of them (to run axe on a
page, or to take a screenshot) and so that a new page adds a step rather than a new flow.
Codes come from Debian's ``oathtool`` and QR codes are read from pixels by Debian's
``zbarimg``: nothing here uses django_totp's own code to check django_totp.
"""

from __future__ import annotations

import base64
import itertools
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import django
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Locator,
    Page,
    Playwright,
    Request,
    Response,
    expect,
)

PASSWORD = "correct horse battery staple"
CHROMIUM = "/usr/bin/chromium"
# Without the background-networking switches Chromium keeps reaching for Google's servers,
# which this machine's closed network refuses; --no-sandbox because the tests may run as root.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# What the pages say; kept here so a change of wording breaks one line.
INVALID = "That code is not right."
REPLAYED = "That code has already been used."
THROTTLED = re.compile(r"Too many attempts\. Try again in (\d+) seconds?\.")
ENROLLED = "Two-factor authentication is on."
RECOVERY_INVALID = "That recovery code is not valid or has already been used."
# Every document and frame reports what its Content-Security-Policy blocked to the test. An init
# script and a binding come from the browser's DevTools side, outside the page's policy.
CSP_BINDING = "__totpCspViolation"
CSP_LISTENER = f"""
document.addEventListener("securitypolicyviolation", (event) => {{
  window.{CSP_BINDING}({{
    page: document.location.href,
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile + ":" + event.lineNumber,
    sample: event.sample,
  }});
}}, true);
"""
# What Chromium logs for a violation (the event above can be lost when the page goes on at once).
CSP_CONSOLE = re.compile(r"Content[- ]Security[- ]Policy", re.IGNORECASE)


def launch_chromium(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@dataclass(frozen=True)
class Viewport:
    name: str
    width: int
    height: int
    phone: bool

    def context_options(self) -> dict[str, Any]:
        return {
            "viewport": {"width": self.width, "height": self.height},
            "device_scale_factor": 1,
            # The tests read the pages' English; the site follows the browser's language.
            "locale": "en-US",
            "is_mobile": self.phone,
            "has_touch": self.phone,
        }


PHONE = Viewport("phone", 390, 844, phone=True)
DESKTOP = Viewport("desktop", 1280, 900, phone=False)
VIEWPORTS = [PHONE, DESKTOP]


@dataclass(frozen=True)
class OtpAuth:
    """An ``otpauth://totp/`` URI as an authenticator app reads it."""

    uri: str
    issuer: str
    account: str
    secret: str
    digits: int
    period: int
    algorithm: str

    @classmethod
    def parse(cls, uri: str) -> OtpAuth:
        parts = urlsplit(uri)
        assert (parts.scheme, parts.netloc) == ("otpauth", "totp"), uri
        label = unquote(parts.path.removeprefix("/"))
        issuer, _, account = label.rpartition(":")
        query = {name: values[-1] for name, values in parse_qs(parts.query).items()}
        assert query.get("issuer") == issuer, f"issuer parameter differs from the label: {uri}"
        return cls(
            uri=uri,
            issuer=issuer,
            account=account,
            secret=query["secret"],
            digits=int(query.get("digits", 6)),
            period=int(query.get("period", 30)),
            algorithm=query.get("algorithm", "SHA1"),
        )

    @property
    def secret_bytes(self) -> bytes:
        padding = "=" * (-len(self.secret) % 8)
        return base64.b32decode(self.secret + padding)

    def step(self, at: float | None = None) -> int:
        return int(time.time() if at is None else at) // self.period

    def code(self, step: int) -> str:
        """The code an authenticator app shows during ``step``, computed by oathtool."""
        return run(
            "oathtool",
            "--totp=" + self.algorithm.lower(),
            *("--base32", "--digits", str(self.digits)),
            *("--time-step-size", f"{self.period}s", "--now", f"@{step * self.period}"),
            self.secret,
        )

    def wrong_code(self, around: int) -> str:
        """A well-formed code that no step near ``around`` produces."""
        near = {self.code(step) for step in range(around - 3, around + 4)}
        candidates = (str(digit) * self.digits for digit in range(10))
        return next(code for code in candidates if code not in near)


def run(*command: str) -> str:
    return subprocess.run(command, capture_output=True, text=True, check=True).stdout.strip()


def decode_qr(png: bytes) -> list[str]:
    """Every QR code zbarimg finds in a PNG image."""
    with tempfile.NamedTemporaryFile(suffix=".png") as image:
        image.write(png)
        image.flush()
        result = subprocess.run(
            ["zbarimg", "--quiet", "--raw", "-Sdisable", "-Sqrcode.enable", image.name],
            capture_output=True,
            text=True,
        )
    # zbarimg exits 4 when it finds nothing; that is an empty answer, not an error.
    assert result.returncode in (0, 4), result.stderr
    return result.stdout.splitlines()


@dataclass
class Account:
    """A person's account on the demo: what they typed, and what their app holds."""

    username: str
    password: str = PASSWORD
    key: OtpAuth | None = None
    last_step: int | None = None  # the step of the last code the site accepted
    recovery_codes: list[str] = field(default_factory=list)  # as saved from the page

    @property
    def app(self) -> OtpAuth:
        assert self.key is not None, f"{self.username} has not enrolled"
        return self.key

    def next_code(self) -> tuple[int, str]:
        """The code the app shows now, or one step after the last accepted one if later.

        A person whose code was just accepted waits for the app to show a new one. With the
        demo's tolerance of one step either side, the site accepts the next step's code at once,
        so the tests type it without waiting up to 30 seconds: a code the app will show, typed
        while the site accepts it, exactly as when the phone's clock runs a little ahead. Only
        when that step is used too does this wait for the next one.
        """
        now = self.app.step()
        step = now if self.last_step is None else max(self.last_step + 1, now)
        if step > now + 1:
            # Two codes were used within one step already: wait, as a person would, until the
            # app shows a code the site takes.
            time.sleep((step - 1) * self.app.period - time.time() + 0.1)
        return step, self.app.code(step)


_numbers = itertools.count(1)


@dataclass
class Traffic:
    """Every request the page made, every response it got, and what the browser blocked."""

    requests: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    # The Content-Security-Policy header of each HTML page, by URL.
    policies: dict[str, str | None] = field(default_factory=dict)
    csp_violations: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_response(self, response: Response) -> None:
        if response.status >= 500:
            self.failures.append(f"{response.status} {response.request.method} {response.url}")
        if response.request.resource_type == "document" and response.status == 200:
            self.policies[response.url] = response.headers.get("content-security-policy")

    def on_csp_violation(self, source: Any, violation: dict[str, Any]) -> None:
        self.csp_violations.append(", ".join(f"{k}: {v}" for k, v in violation.items()))

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error" and CSP_CONSOLE.search(message.text):
            where = message.location.get("url", "")
            self.csp_violations.append(f"console at {where}: {message.text}")


class Flow:
    """One person in one browser context at one viewport."""

    def __init__(self, page: Page, base_url: str, viewport: Viewport) -> None:
        self.page = page
        self.base_url = base_url
        self.viewport = viewport
        self.traffic = Traffic()
        self.secrets: set[str] = set()
        page.context.on("request", self.traffic.on_request)
        page.context.on("response", self.traffic.on_response)
        page.context.on("console", self.traffic.on_console)
        page.context.expose_binding(CSP_BINDING, self.traffic.on_csp_violation)
        page.context.add_init_script(CSP_LISTENER)

    # Things a person sees and touches.

    @property
    def code_field(self) -> Locator:
        return self.field("Authentication code")

    def field(self, label: str) -> Locator:
        """A form field by its label; crispy-forms marks required ones with an asterisk."""
        return self.page.get_by_label(re.compile(rf"^\s*{re.escape(label)}\s*\*?\s*$"))

    def heading(self, text: str | re.Pattern[str]) -> Locator:
        return self.page.get_by_role("heading", level=1, name=text)

    def open(self, path: str) -> None:
        self.page.goto(self.base_url + path)

    def press(self, target: Locator) -> None:
        """A tap on a touch screen, a click elsewhere."""
        if self.viewport.phone:
            target.tap()
        else:
            target.click()

    def press_button(self, name: str) -> None:
        """Press a button of the page's form and wait for the page the server answers with."""
        button = self.page.get_by_role("main").get_by_role("button", name=name, exact=True)
        # The answer may be the same URL (a form with errors): wait for a navigation, not a URL.
        with self.page.expect_navigation():
            self.press(button)

    def menu(self) -> Locator:
        """The navigation bar, opened first where it is folded behind its button."""
        toggle = self.page.get_by_role("button", name="Toggle navigation")
        if toggle.is_visible() and toggle.get_attribute("aria-expanded") != "true":
            self.press(toggle)
            # Bootstrap's "collapsing" turns into "show" when the menu has stopped moving: a
            # tap on a link that is still sliding in can miss it on a loaded machine.
            expect(self.page.locator("#main-nav")).to_have_class(re.compile(r"(^|\s)show(\s|$)"))
        return self.page.get_by_role("navigation")

    def assert_fits_the_screen(self) -> None:
        overflow = self.page.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{self.page.url} scrolls sideways by {overflow}px"

    # Steps.

    def register(self, username: str | None = None) -> Account:
        """Create an account; ends on the first enrolment page."""
        # By default a name with characters that the otpauth label has to percent-encode.
        account = Account(username or f"ana.{next(_numbers)}+{self.viewport.name}@example.com")
        self.open("/register/")
        self.field("Username").fill(account.username)
        self.field("Password").fill(account.password)
        self.field("Password confirmation").fill(account.password)
        self.press_button("Create account")
        expect(self.heading("Set up two-factor authentication")).to_be_visible()
        return account

    def start_enrolment(self) -> None:
        """From the first enrolment page to the QR code."""
        self.press_button("Continue")
        expect(self.heading("Scan the QR code")).to_be_visible()

    def scan_qr(self, account: Account) -> OtpAuth:
        """Read the QR code from a screenshot of it, as the phone's camera would."""
        qr = self.page.get_by_role("img", name="QR code to scan with your authenticator app")
        expect(qr).to_be_visible()
        box = qr.bounding_box()
        assert box is not None and box["x"] >= 0, box
        assert box["x"] + box["width"] <= self.viewport.width, f"QR code cut off: {box}"
        decoded = decode_qr(qr.screenshot())
        assert len(decoded) == 1, f"zbarimg read {decoded!r}"
        key = OtpAuth.parse(decoded[0])
        self.secrets.add(key.secret)
        account.key = key
        return key

    def read_key_by_hand(self) -> str:
        """The key as the page shows it for typing into an app, without the spaces."""
        self.press(self.page.get_by_text("Can't scan? Enter the key by hand"))
        secret = self.page.get_by_test_id("totp-secret")
        expect(secret).to_be_visible()
        return "".join(secret.inner_text().split())

    def enter_code(self, code: str, button: str = "Verify") -> None:
        self.code_field.fill(code)
        self.press_button(button)

    def enter_next_code(self, account: Account, button: str = "Verify") -> None:
        """Type the app's next code; the account remembers its step if the site took it."""
        step, code = account.next_code()
        self.enter_code(code, button)
        if not self.code_field.is_visible():
            account.last_step = step

    def enter_next_code_patiently(self, account: Account, button: str = "Verify") -> None:
        """Type the app's next code; while the site asks to wait, wait as long as it says."""
        for _ in range(3):
            self.enter_next_code(account, button)
            throttled = self.page.get_by_text(THROTTLED)
            if not throttled.is_visible():
                return
            wait = THROTTLED.search(throttled.inner_text())
            assert wait is not None
            self.page.wait_for_timeout(int(wait[1]) * 1000 + 100)
        raise AssertionError("still asked to wait after three tries")

    def confirm_enrolment(self, account: Account) -> None:
        """Type the app's current code on the QR code page; ends on the recovery codes."""
        step = account.app.step()
        self.enter_code(account.app.code(step), "Activate")
        account.last_step = step
        expect(self.page.get_by_role("alert").filter(has_text=ENROLLED)).to_be_visible()
        expect(self.heading("Save your recovery codes")).to_be_visible()

    def save_recovery_codes(self, account: Account) -> None:
        """Note the codes the page shows once, and go on; ends on the account page."""
        codes = self.page.locator("#totp-recovery-codes code").all_inner_texts()
        assert len(codes) == 10 and len(set(codes)) == 10, codes
        account.recovery_codes = codes
        self.press(self.page.get_by_role("link", name="I have saved my codes, continue"))
        self.expect_account_page(account)

    def download_recovery_codes(self) -> str:
        """The text file the recovery codes page offers (a data: URL, no script needed)."""
        with self.page.expect_download() as download:
            self.press(self.page.get_by_role("link", name="Download as .txt"))
        assert download.value.suggested_filename == "recovery-codes.txt"
        return Path(download.value.path()).read_text()

    def copy_recovery_codes(self) -> str:
        """Press Copy (its script is a static file); what the clipboard holds then."""
        self.page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        self.press(self.page.get_by_role("button", name="Copy", exact=True))
        expect(self.page.get_by_role("button", name="Copied", exact=True)).to_be_visible()
        return self.page.evaluate("() => navigator.clipboard.readText()")

    def print_recovery_codes(self) -> None:
        """Press Print; the browser's print dialog is replaced by a note that it was asked for."""
        self.page.evaluate("() => { window.print = () => { document.body.dataset.printed = 1; }; }")
        self.press(self.page.get_by_role("button", name="Print", exact=True))
        expect(self.page.locator("body")).to_have_attribute("data-printed", "1")

    def enrol(self, account: Account) -> OtpAuth:
        """From the first enrolment page to the account page: QR code, code, recovery codes."""
        self.start_enrolment()
        key = self.scan_qr(account)
        self.confirm_enrolment(account)
        self.save_recovery_codes(account)
        return key

    def register_and_enrol(self) -> Account:
        account = self.register()
        self.enrol(account)
        return account

    def expect_account_page(self, account: Account) -> None:
        expect(self.page).to_have_url(self.base_url + "/account/")
        expect(self.heading("Your account")).to_be_visible()
        expect(self.page.get_by_test_id("username")).to_have_text(account.username)

    def sign_out(self) -> None:
        self.press(self.menu().get_by_role("button", name="Sign out"))
        expect(self.page.get_by_test_id("totp-status")).to_have_attribute(
            "data-status", "anonymous"
        )

    def sign_in(self, account: Account, *, asked_for_code: bool = True) -> None:
        """The password step; ends on the page that asks for the code (or, in a browser the
        site remembers, on the account page)."""
        self.open("/login/")
        self.field("Username").fill(account.username)
        self.field("Password").fill(account.password)
        self.press_button("Sign in")
        if asked_for_code:
            self.expect_verify_page()
        else:
            self.expect_account_page(account)

    def use_recovery_code(self, code: str) -> None:
        """From the code page, the way a person without their phone signs in."""
        self.press(self.page.get_by_role("link", name="Lost your phone? Use a recovery code"))
        expect(self.heading("Use a recovery code")).to_be_visible()
        self.field("Recovery code").fill(code)
        self.press_button("Verify")

    def expect_verify_page(self) -> None:
        expect(self.page).to_have_url(re.compile(r"/2fa/verify/\?next=%2Faccount%2F$"))
        expect(self.heading("Enter your authentication code")).to_be_visible()

    # Checks every test gets (see the ``flow`` fixture).

    def assert_traffic_stayed_on_this_site(self) -> None:
        """Nothing left the demo site, no URL carried a secret (R6), and no page was a 5xx."""
        local = (self.base_url + "/", "data:")
        foreign = [url for url in self.traffic.requests if not url.startswith(local)]
        assert not foreign, f"requests that left the demo site: {foreign}"
        leaks = [url for url in self.traffic.requests for s in self.secrets if s in url]
        assert not leaks, f"a secret in a URL: {leaks}"
        assert not self.traffic.failures, f"server errors: {self.traffic.failures}"

    def assert_no_csp_violations(self) -> None:
        """Every page of the demo had its strict Content-Security-Policy, and broke none of it.

        The demo sends one from Django 6.0 on (``demo_project/settings.py``).
        """
        if not self.page.is_closed():
            # Reports from the page still on its way to the test arrive before this answer.
            self.page.wait_for_timeout(100)
            self.page.evaluate("() => true")
        assert not self.traffic.csp_violations, "Content-Security-Policy violations:\n" + (
            "\n".join(self.traffic.csp_violations)
        )
        if django.VERSION >= (6, 0):
            pages = {
                url: p for url, p in self.traffic.policies.items() if url.startswith(self.base_url)
            }
            weak = {url: p for url, p in pages.items() if not p or "script-src 'self'" not in p}
            assert not weak, f"pages without the demo's Content-Security-Policy: {weak}"
