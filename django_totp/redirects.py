"""Where the 2FA pages send people next, in one place for the middleware and the views."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.utils.http import url_has_allowed_host_and_scheme

from .conf import conf


def url_with_next(target: str, next_url: str | None) -> str:
    """``target`` (a URL name or path) with ``?next=next_url``, or bare when there is none."""
    url = resolve_url(target)
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def safe_next(request: HttpRequest) -> str:
    """The ``next`` parameter if it stays on this site (R20), else ``TOTP_REDIRECT_URL``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # SECURITY: only relative or same-host URLs, with https kept on secure requests.
    if candidate and url_has_allowed_host_and_scheme(
        candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return candidate
    return resolve_url(conf.TOTP_REDIRECT_URL)
