"""The documentation keeps up with the code: settings, signals, and the README's links.

`make docs` builds the site with warnings as errors (broken references inside docs/); these
tests check what Sphinx cannot: that nothing the code offers is missing from the pages.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from django.dispatch import Signal

from django_totp import conf, signals

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
# A table row whose first cell is one name in backticks: | `NAME` | ... |
ROW = re.compile(r"^\|\s*`(?P<name>[A-Za-z_]+)`\s*\|(?P<rest>.*)$", re.MULTILINE)

SETTINGS = sorted(name for name in dir(conf.Settings) if name.startswith("TOTP_"))
SIGNALS = sorted(name for name, value in vars(signals).items() if isinstance(value, Signal))


def table_rows(page: str) -> dict[str, list[str]]:
    """The rows of a page's tables, keyed by their first cell, with the other cells."""
    text = (DOCS / page).read_text()
    return {
        match["name"]: [cell.strip() for cell in match["rest"].split("|")]
        for match in ROW.finditer(text)
    }


def test_the_settings_exist():
    assert len(SETTINGS) > 20
    assert "TOTP_RECHECK_SECONDS" in SETTINGS


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_in_the_settings_reference_with_its_default(name, settings):
    rows = table_rows("settings.md")
    assert name in rows, f"{name} is missing from docs/settings.md"
    documented = rows[name][0].strip("`")
    if hasattr(settings, name):
        delattr(settings, name)
    actual = getattr(conf.conf, name)
    if documented.isidentifier() and documented.isupper():
        # A default taken from one of Django's settings, e.g. LOGIN_REDIRECT_URL.
        expected = getattr(settings, documented)
    else:
        expected = ast.literal_eval(documented)
    assert actual == expected, f"docs/settings.md gives {name} the default {documented}"


def test_the_settings_reference_documents_no_setting_that_does_not_exist():
    documented = {name for name in table_rows("settings.md") if name.startswith("TOTP_")}
    assert documented == set(SETTINGS)


def test_the_signals_exist():
    assert "device_locked" in SIGNALS
    assert len(SIGNALS) > 10


@pytest.mark.parametrize("name", SIGNALS)
def test_every_signal_is_on_the_signals_page_and_in_its_module_docstring(name):
    assert name in table_rows("signals.md"), f"{name} is missing from docs/signals.md"
    # The API reference renders the module's docstring, which describes each signal.
    assert f"``{name}``" in (signals.__doc__ or "")


def test_the_signals_page_lists_no_signal_that_does_not_exist():
    assert set(table_rows("signals.md")) == set(SIGNALS)


def slug(heading: str) -> str:
    """The anchor GitHub and MyST (myst_heading_anchors) give a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    headings = re.findall(r"^#+\s+(.*)$", path.read_text(), re.MULTILINE)
    return {slug(heading) for heading in headings}


def test_the_readmes_links_resolve():
    text = (ROOT / "README.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text) + re.findall(r'src="([^"]+)"', text)
    local = [link for link in links if "://" not in link]
    assert "docs/settings.md" in local
    for link in local:
        target, _, anchor = link.partition("#")
        path = ROOT / target if target else ROOT / "README.md"
        assert path.is_file(), f"README.md links to {link}, which does not exist"
        if anchor:
            assert anchor in anchors(path), f"README.md links to {link}: no such heading"


def test_the_docs_are_where_the_readme_says():
    pages = {path.name for path in DOCS.glob("*.md")}
    assert {
        "index.md",
        "installation.md",
        "settings.md",
        "middleware.md",
        "users.md",
        "drf.md",
        "deploying.md",
        "operating.md",
        "signals.md",
        "performance.md",
        "security.md",
        "api.md",
        "contributing.md",
    } <= pages


def webauthn_snippets() -> list[tuple[str, str]]:
    """The "switch security keys on" code blocks of the README and the installation page."""
    found = []
    for path in (ROOT / "README.md", DOCS / "installation.md"):
        for block in re.findall(r"```python\n(.*?)```", path.read_text(), re.DOTALL):
            if "TOTP_WEBAUTHN = True" in block:
                found.append((path.name, block))
    return found


def test_the_switch_security_keys_on_snippets_are_the_same_four_settings():
    snippets = webauthn_snippets()
    assert [name for name, _ in snippets] == ["README.md", "installation.md"]
    assert snippets[0][1] == snippets[1][1]
    assert len(snippets[0][1].splitlines()) == 4  # and the pip install line: five


@pytest.mark.django_db
def test_the_snippet_switches_security_keys_on_with_no_check_failing(settings):
    from django.core import checks

    from django_totp import webauthn

    snippet: dict[str, object] = {}
    exec(webauthn_snippets()[0][1], {}, snippet)  # noqa: S102 (our own README)
    for name, value in snippet.items():
        setattr(settings, name, value)
    problems = [m for m in checks.run_checks() if m.id and m.id.startswith("django_totp.")]
    assert [m for m in problems if m.level >= checks.ERROR] == []
    assert [m.id for m in problems if "WEBAUTHN" in m.msg] == []
    rp = webauthn.relying_party()
    assert (rp.id, rp.origins, rp.user_verification) == (
        "example.com",
        ("https://example.com",),
        "preferred",
    )


def test_the_docs_warn_that_changing_the_rp_id_orphans_every_key():
    for page in (ROOT / "README.md", DOCS / "installation.md", DOCS / "settings.md"):
        text = " ".join(page.read_text().split())
        assert re.search(r"[Cc]hanging (it|`TOTP_WEBAUTHN_RP_ID`) .*orphans every", text), page
