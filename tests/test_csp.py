"""The pages work under a strict Content-Security-Policy (issue 12): nothing inline.

Fast checks that need no browser: the templates' source and the rendered pages hold no inline
style or script, and under Django 6's CSP middleware every page of the package carries the
site's policy (with ``frame-ancestors 'none'``) and its script the request's nonce. The browser
tests (``tests/browser``) run the demo under that policy and fail on any violation.
"""

from __future__ import annotations

import copy
import re
from html.parser import HTMLParser
from pathlib import Path

import django
import pytest
from django.test import Client
from django.urls import reverse

from django_totp.qr import qr_svg

from .conftest import PASSWORD, make_device

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE_DIRS = [
    ROOT / "django_totp" / "templates",
    ROOT / "demo_project" / "templates",
    ROOT / "tests" / "browser" / "bootstrap3" / "templates",  # test_looks.py's Bootstrap 3 site
]
TEMPLATES = sorted(path for folder in TEMPLATE_DIRS for path in folder.rglob("*.html"))
TEMPLATE_COMMENT = re.compile(r"{% comment %}.*?{% endcomment %}|{#.*?#}", re.DOTALL)
TEMPLATE_TAG = re.compile(r"{%.*?%}", re.DOTALL)
TEMPLATE_VARIABLE = re.compile(r"{{.*?}}", re.DOTALL)

needs_csp_middleware = pytest.mark.skipif(
    django.VERSION < (6, 0), reason="Django's CSP middleware is new in 6.0"
)


class InlineCode(HTMLParser):
    """What a strict policy (no 'unsafe-inline', no 'unsafe-hashes') would block in a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._script: str | None = None  # the start tag of an inline <script> being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        names = dict(attrs)
        where = self.get_starttag_text() or tag
        if tag == "style":
            self.found.append(f"<style> element: {where}")
        for name, value in attrs:
            if name == "style":
                self.found.append(f"style attribute: {where}")
            elif name.startswith("on"):
                self.found.append(f"inline event handler {name}: {where}")
            elif (value or "").strip().lower().startswith("javascript:"):
                self.found.append(f"javascript: URL: {where}")
        # json_script's data is not run: <script type="application/json">.
        if tag == "script" and "src" not in names and names.get("type") != "application/json":
            self._script = where

    def handle_data(self, data: str) -> None:
        if self._script is not None and data.strip():
            self.found.append(f"inline script: {self._script}")
            self._script = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._script = None


def inline_code(html: str) -> list[str]:
    parser = InlineCode()
    parser.feed(html)
    parser.close()
    return parser.found


def template_markup(path: Path) -> str:
    """A template's HTML with comments dropped, tags emptied and variables as plain text."""
    text = TEMPLATE_COMMENT.sub("", path.read_text())
    return TEMPLATE_VARIABLE.sub("x", TEMPLATE_TAG.sub("", text))


def test_the_checker_finds_every_kind_of_inline_code():
    html = (
        '<style>p{}</style><p style="color:red">a</p><button onclick="go()">b</button>'
        '<a href="javascript:go()">c</a><script>go()</script>'
        '<script src="/s.js"></script><script type="application/json" id="d">{"a": 1}</script>'
    )
    assert [finding.split(":")[0] for finding in inline_code(html)] == [
        "<style> element",
        "style attribute",
        "inline event handler onclick",
        "javascript",
        "inline script",
    ]


def test_the_template_markup_drops_comments_and_keeps_attributes():
    path = ROOT / "django_totp" / "templates" / "django_totp" / "base.html"
    assert "<style>" in path.read_text()  # named in its comment, which is dropped
    assert inline_code(template_markup(path)) == []
    assert "django_totp/totp.css" in path.read_text()


@pytest.mark.parametrize("path", TEMPLATES, ids=lambda path: str(path.relative_to(ROOT)))
def test_no_template_has_inline_style_script_or_event_handlers(path: Path):
    assert inline_code(template_markup(path)) == []


def test_the_qr_code_has_no_style_attribute_and_a_size_without_css():
    svg = qr_svg("otpauth://totp/I:a?secret=JBSWY3DPEHPK3PXP", label="QR")
    assert inline_code(svg) == []
    assert re.match(r'<svg role="img" aria-label="QR" width="(\d+)" height="\1" ', svg)
    assert "viewBox=" in svg  # so that the page's CSS can scale it


def rendered_pages(client: Client, user, code_for, staff_user) -> dict[str, tuple]:
    """Every page of the package, as each kind of session meets it: name -> response."""
    pages = {}
    client.login(username=user.username, password=PASSWORD)
    pages["setup: start"] = client.get(reverse("django_totp:setup"))
    client.post(reverse("django_totp:setup"), {"start": "1"})
    pages["setup: QR code"] = client.get(reverse("django_totp:setup"))
    pending = user.totp_devices.get()
    pages["recovery codes"] = client.post(reverse("django_totp:setup"), {"code": code_for(pending)})
    assert pages["recovery codes"].context["codes"]
    for name in ("manage", "disable", "recovery_codes", "forget_browsers", "setup"):
        pages[name] = client.get(reverse(f"django_totp:{name}"))
    for name in ("rename", "remove"):
        pages[name] = client.get(reverse(f"django_totp:{name}", args=[pending.pk]))
    client.logout()
    client.login(username=user.username, password=PASSWORD)
    pages["verify"] = client.get(reverse("django_totp:verify"))
    pages["recovery"] = client.get(reverse("django_totp:recovery"))

    make_device(user, failure_count=3)
    staff = Client()
    staff.login(username=staff_user.username, password=PASSWORD)
    staff.post(reverse("django_totp:verify"), {"code": code_for(make_device(staff_user))})
    for operation in ("reset", "unlock"):
        url = f"/admin/django_totp/totpdevice/user/{user.pk}/{operation}/"
        pages[f"admin: confirm {operation}"] = staff.get(url)
        assert "Yes, " in pages[f"admin: confirm {operation}"].content.decode()
    for name, response in pages.items():
        assert response.status_code == 200, (name, response)
    return pages


@pytest.mark.django_db
def test_no_rendered_page_has_inline_style_or_script(client, user, code_for, staff_user):
    """The pages as sent, with crispy-forms' markup and the QR code in them."""
    pages = rendered_pages(client, user, code_for, staff_user)
    found = {
        name: inline_code(response.content.decode())
        for name, response in pages.items()
        if not name.startswith("admin:")  # Django's admin templates: Django's business
    }
    assert found == dict.fromkeys(found, [])


@pytest.fixture
def strict_csp(settings):
    """Django's CSP middleware and context processor, with the policy of issue 12."""
    from django.utils.csp import CSP

    settings.MIDDLEWARE = [
        "django.middleware.csp.ContentSecurityPolicyMiddleware",
        *settings.MIDDLEWARE,
    ]
    settings.SECURE_CSP = {
        "default-src": [CSP.SELF],
        "script-src": [CSP.SELF, CSP.NONCE],
        "style-src": [CSP.SELF],
        "img-src": [CSP.SELF, "data:"],
        # The site allows its own frames: the package's pages still allow none (R21).
        "frame-ancestors": [CSP.SELF],
    }
    templates = copy.deepcopy(settings.TEMPLATES)
    templates[0]["OPTIONS"]["context_processors"].append("django.template.context_processors.csp")
    settings.TEMPLATES = templates


@needs_csp_middleware
@pytest.mark.django_db
def test_every_page_carries_the_sites_policy_and_denies_framing(
    strict_csp, client, user, code_for, staff_user
):
    """Before: the package's own ``frame-ancestors 'none'`` header made Django's middleware
    leave every page of the package without the site's policy."""
    for name, response in rendered_pages(client, user, code_for, staff_user).items():
        policy = response["Content-Security-Policy"]
        directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
        assert directives["default-src"] == "'self'", (name, policy)
        assert directives["style-src"] == "'self'", (name, policy)
        assert directives["frame-ancestors"] == "'none'", (name, policy)
        assert response["X-Frame-Options"] == "DENY", name


def recovery_codes_page(client: Client) -> tuple[str, str]:
    """A new set of recovery codes: the page, and its Content-Security-Policy header if any."""
    response = client.post(reverse("django_totp:recovery_codes"))
    assert response.status_code == 200 and response.context["codes"]
    return response.content.decode(), response.get("Content-Security-Policy", "")


@needs_csp_middleware
@pytest.mark.django_db
def test_the_recovery_codes_script_carries_the_nonce_of_the_policy(strict_csp, verified_client):
    html, policy = recovery_codes_page(verified_client)
    (nonce,) = re.findall(r"'nonce-([^']+)'", policy)
    assert f'src="/static/django_totp/recovery-codes.js" defer nonce="{nonce}"' in html


@pytest.mark.django_db
def test_without_a_nonce_in_the_context_the_script_has_none(verified_client, settings):
    """Django 5.2, or a site without the csp context processor: not even an empty nonce."""
    templates = copy.deepcopy(settings.TEMPLATES)
    processors = templates[0]["OPTIONS"]["context_processors"]
    processors[:] = [p for p in processors if p != "django.template.context_processors.csp"]
    settings.TEMPLATES = templates
    html, _ = recovery_codes_page(verified_client)
    assert 'src="/static/django_totp/recovery-codes.js" defer>' in html
    assert "nonce" not in html


def framed_by_middleware(rf, view_response):
    """``deny_framing`` on ``view_response``, then the CSP middleware: the header it sends."""
    from django.middleware.csp import ContentSecurityPolicyMiddleware

    from django_totp.views import deny_framing

    request = rf.get("/2fa/manage/")
    middleware = ContentSecurityPolicyMiddleware(lambda request: view_response)
    middleware.process_request(request)
    response = middleware.process_response(request, deny_framing(request, view_response))
    return response.get("Content-Security-Policy")


@needs_csp_middleware
def test_a_views_own_csp_override_keeps_its_policy_with_frame_ancestors_none(rf, settings):
    from django.http import HttpResponse
    from django.views.decorators.csp import csp_override

    settings.SECURE_CSP = {"default-src": ["'self'"]}
    response = csp_override({"img-src": ["'self'"]})(lambda request: HttpResponse())(None)
    assert framed_by_middleware(rf, response) == "img-src 'self'; frame-ancestors 'none'"


@needs_csp_middleware
def test_without_a_site_policy_the_page_still_denies_framing(rf, settings):
    from django.http import HttpResponse

    settings.SECURE_CSP = {}
    assert framed_by_middleware(rf, HttpResponse()) == "frame-ancestors 'none'"
