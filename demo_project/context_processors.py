"""Template context for the demo's pages."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def key_address(request: HttpRequest) -> dict[str, str]:
    """Where security keys work, for a page served at another address (``127.0.0.1``).

    ``key_origin`` is the origin of ``TOTP_WEBAUTHN_ORIGINS`` and ``key_address`` this page
    there; nothing when the page is served at that origin or keys are off. The request's host
    only decides whether to show the link: the relying party itself never comes from it (W2).
    """
    origins = settings.TOTP_WEBAUTHN_ORIGINS if settings.TOTP_WEBAUTHN else []
    here = f"{request.scheme}://{request.get_host()}"
    if not origins or here in origins:
        return {}
    return {"key_origin": origins[0], "key_address": origins[0] + request.get_full_path()}
