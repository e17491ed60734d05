"""``make screenshots`` keeps working and keeps its pictures small."""

from __future__ import annotations

import struct

from .flow import VIEWPORTS, OtpAuth, decode_qr
from .screenshots import MAX_BYTES, take


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_the_screenshots_are_small_pngs_of_both_pages_at_both_viewports(browser, demo, tmp_path):
    written = take(browser, demo.url, tmp_path)
    assert sorted(path.name for path in written) == sorted(
        f"{page}-{viewport.name}.png" for page in ("enrolment", "verify") for viewport in VIEWPORTS
    )
    for viewport in VIEWPORTS:
        for page in ("enrolment", "verify"):
            data = (tmp_path / f"{page}-{viewport.name}.png").read_bytes()
            assert len(data) <= MAX_BYTES, (page, viewport.name, len(data))
            width, height = png_size(data)
            assert width == viewport.width and height >= viewport.height // 2
        # The whole page, not just the QR code, still scans.
        (uri,) = decode_qr((tmp_path / f"enrolment-{viewport.name}.png").read_bytes())
        assert OtpAuth.parse(uri).issuer == "django-totp demo"
