"""The browser tests' demo with user verification required for security keys (W5).

The demo's own settings otherwise (``DEMO_PORT`` names the origin), as ``tests/browser/settings``.
"""

from __future__ import annotations

from tests.browser.settings import *  # noqa: F403

TOTP_WEBAUTHN_USER_VERIFICATION = "required"
