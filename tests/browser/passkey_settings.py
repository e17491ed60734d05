"""The browser tests' demo with passkey sign-in on (``test_passkey.py``): the key demo's
settings (localhost, its origin) and ``TOTP_PASSKEY_SIGN_IN``."""

from __future__ import annotations

from tests.browser.webauthn_settings import *  # noqa: F403

TOTP_PASSKEY_SIGN_IN = True
