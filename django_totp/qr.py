"""otpauth URI -> inline SVG QR code, rendered on this server (R6)."""

from __future__ import annotations

import re

import qrcode
import qrcode.image.svg
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

PX_PER_MODULE = 5  # CSS pixels per module: readable from a screen at any QR version


def qr_svg(data: str, *, label: str) -> SafeString:
    """An accessible inline ``<svg>`` of ``data``; no image library or third party involved."""
    # SECURITY: the secret never leaves the server in a URL to a QR service (R6).
    qr = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M,
        border=4,
        image_factory=qrcode.image.svg.SvgPathFillImage,
    )
    qr.add_data(data)
    qr.make(fit=True)
    svg = qr.make_image().to_string(encoding="unicode")
    # The library's output is plain markup built from module positions; only the label is ours.
    # Its size in mm becomes PX_PER_MODULE CSS pixels a module (quiet zone included), so a long
    # URI gets a larger code rather than smaller modules; the page's CSS (".totp-qr svg" in
    # django_totp/totp.css) only keeps it within its container (max-width: 100%). No style
    # attribute: a strict Content-Security-Policy (style-src without 'unsafe-inline') drops it.
    size = (qr.modules_count + 2 * qr.border) * PX_PER_MODULE
    svg = re.sub(r'^<svg width="[^"]*" height="[^"]*" ', "<svg ", svg)
    # The library names its path id="qr-path": unused, and a duplicate id when a page shows two
    # codes. No id of the library's is referenced, so none is kept.
    svg = re.sub(r'\sid="[^"]*"', "", svg)
    opening = format_html(
        '<svg role="img" aria-label="{}" width="{}" height="{}" ', label, size, size
    )
    svg = svg.replace("<svg ", opening, 1)
    return mark_safe(svg)  # noqa: S308
