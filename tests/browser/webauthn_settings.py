"""The browser tests' demo with security keys on (``test_webauthn.py``).

Browsers allow WebAuthn on ``http://localhost`` only, never on ``127.0.0.1``, so the server is
reached as localhost on a port chosen before it starts, which the origin names.
"""

from __future__ import annotations

import os

from tests.browser.settings import *  # noqa: F403

TOTP_WEBAUTHN = True
TOTP_WEBAUTHN_RP_ID = "localhost"
TOTP_WEBAUTHN_ORIGINS = [os.environ["TOTP_BROWSER_WEBAUTHN_ORIGIN"]]
