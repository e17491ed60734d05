from __future__ import annotations

from django_totp.qr import qr_svg


def test_qr_is_inline_svg_with_an_accessible_label():
    svg = qr_svg("otpauth://totp/I:a?secret=JBSWY3DPEHPK3PXP", label='Scan "me" <now>')
    assert svg.startswith("<svg ")
    assert 'role="img"' in svg and 'aria-label="Scan &quot;me&quot; &lt;now&gt;"' in svg
    assert "<?xml" not in svg and "<path" in svg
