"""Django's Content-Security-Policy middleware (Django 6.0+), as the package's pages meet it.

The pages need no inline script or style: their CSS and JS are static files, and a script tag
carries ``csp_nonce`` when the site's template context has one. Only the frame protection
(``views.deny_framing``) has to cooperate with the middleware, through the functions here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

try:
    from django.middleware.csp import get_nonce
except ImportError:  # pragma: no cover (Django < 6.0 has no CSP middleware)

    def get_nonce(request: HttpRequest) -> None:  # type: ignore[misc]
        return None


NONE = "'none'"
HEADER = "Content-Security-Policy"

Policy = Mapping[str, Any]


def site_policy(request: HttpRequest, response: HttpResponseBase) -> Policy | None:
    """The policy Django's CSP middleware will write on ``response``; None if it writes none.

    None as well when the header is set already: the middleware then leaves the response alone.
    """
    if get_nonce(request) is None or HEADER in response:
        return None  # the middleware is not installed, or did not see this request
    # A view's own csp_override() decorator wins over the setting, as in the middleware.
    policy: Policy | None = getattr(response, "_csp_config", settings.SECURE_CSP)
    return policy or None


def override(response: HttpResponseBase, policy: Policy) -> None:
    """Have the middleware write ``policy`` on ``response``, as ``csp_override()`` would."""
    response._csp_config = policy  # type: ignore[attr-defined]
