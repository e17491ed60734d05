"""A site's own session engine built on signed cookies: ``tests.signed_sessions``."""

from __future__ import annotations

from django.contrib.sessions.backends import signed_cookies


class SessionStore(signed_cookies.SessionStore):
    """Signed-cookie sessions under another module name, as a site's customisation would be."""
