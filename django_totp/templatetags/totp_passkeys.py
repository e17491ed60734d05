"""``{% load totp_passkeys %}{% totp_passkey_sign_in %}``: passkey sign-in on the site's own
login page.

It renders nothing while ``TOTP_PASSKEY_SIGN_IN`` (or ``TOTP_WEBAUTHN``) is off. Otherwise a
"Sign in with a passkey" button, hidden until ``passkey.js`` finds a browser that can, and
passkey autofill in the page's username field where the browser offers it.
"""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse

from .. import passkeys
from ..passkey_views import passkey_messages

register = template.Library()


@register.inclusion_tag("django_totp/_passkey_sign_in.html", takes_context=True)
def totp_passkey_sign_in(context: template.Context) -> dict[str, Any]:
    """The button and its form; ``next`` is the page's own (the login view's context)."""
    if not passkeys.enabled():
        return {"enabled": False}
    return {
        "enabled": True,
        "request": context.get("request"),
        "csrf_token": context.get("csrf_token"),
        "csp_nonce": context.get("csp_nonce"),
        "next": context.get("next") or "",
        "finish_url": reverse("django_totp:passkey_finish"),
        "passkey_config": {
            "begin": reverse("django_totp:passkey_begin"),
            "messages": passkey_messages(),
        },
    }
