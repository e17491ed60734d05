from __future__ import annotations

import re
from pathlib import Path

import pytest

from django_totp.qr import qr_svg

STATIC = Path(__file__).resolve().parent.parent / "django_totp" / "static" / "django_totp"
DEMO_CSS = STATIC.parents[2] / "demo_project" / "static" / "demo_project" / "css" / "demo.css"


def test_qr_is_inline_svg_with_an_accessible_label():
    svg = qr_svg("otpauth://totp/I:a?secret=JBSWY3DPEHPK3PXP", label='Scan "me" <now>')
    assert svg.startswith("<svg ")
    assert 'role="img"' in svg and 'aria-label="Scan &quot;me&quot; &lt;now&gt;"' in svg
    assert "<?xml" not in svg and "<path" in svg


def svg_size(svg: str) -> tuple[int, int, int]:
    """The ``width`` and ``height`` attributes and the viewBox's side, in modules."""
    width, height = (int(re.search(rf'{a}="(\d+)"', svg).group(1)) for a in ("width", "height"))
    view = re.search(r'viewBox="0 0 (\d+) \1"', svg)
    assert view is not None, svg[:200]
    return width, height, int(view.group(1))


@pytest.mark.parametrize("length", [0, 100, 300])
def test_the_qr_code_gets_five_css_pixels_a_module_whatever_its_version(length):
    svg = qr_svg(f"otpauth://totp/I:{'a' * length}?secret=JBSWY3DPEHPK3PXP", label="QR")
    width, height, modules = svg_size(svg)
    assert width == height == 5 * modules


def test_a_longer_uri_gets_a_larger_code_not_smaller_modules():
    short = svg_size(qr_svg("otpauth://totp/I:a?secret=JBSWY3DPEHPK3PXP", label="QR"))
    long = svg_size(qr_svg(f"otpauth://totp/I:{'a' * 200}?secret=JBSWY3DPEHPK3PXP", label="QR"))
    assert long[2] > short[2] and long[0] > short[0]


def test_the_stylesheet_only_keeps_the_qr_code_within_its_container():
    # The demo loads totp.css too (before demo.css, which sets no width on it).
    assert "width" not in "".join(re.findall(r"\.totp-qr svg \{([^}]*)\}", DEMO_CSS.read_text()))
    rule = re.search(r"\.totp-qr svg \{([^}]*)\}", (STATIC / "totp.css").read_text())
    assert rule is not None
    declarations = dict(
        (name.strip(), value.strip())
        for name, _, value in (d.partition(":") for d in rule.group(1).split(";") if d.strip())
    )
    assert declarations["max-width"] == "100%"
    assert "width" not in declarations  # it would override the size from the module count


def test_two_qr_codes_on_one_page_share_no_ids():
    page = qr_svg("otpauth://totp/I:a?secret=JBSWY3DPEHPK3PXP", label="A") + qr_svg(
        "otpauth://totp/I:b?secret=JBSWY3DPEHPK3PXP", label="B"
    )
    ids = re.findall(r'\bid="([^"]*)"', page)
    assert len(ids) == len(set(ids)), ids
