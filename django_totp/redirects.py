"""Where the 2FA pages send people next, in one place for the middleware and the views."""

from __future__ import annotations

import inspect
from urllib.parse import urlencode, urlsplit

from django.contrib.admin.sites import AdminSite
from django.contrib.auth.views import LogoutView
from django.http import HttpRequest
from django.shortcuts import resolve_url
from django.urls import Resolver404, ResolverMatch, get_script_prefix, resolve
from django.utils.http import url_has_allowed_host_and_scheme

from .conf import conf


def url_with_next(target: str, next_url: str | None, urlconf: str | None = None) -> str:
    """``target`` (a URL name or path) with ``?next=next_url``, or bare when there is none.

    A logout is never carried as ``next``: going there after the code would be a GET on a
    POST-only view (a 405), or sign the user out again.
    """
    url = resolve_url(target)
    if next_url and not is_logout_url(next_url, urlconf):
        return f"{url}?{urlencode({'next': next_url})}"
    return url


def safe_next(request: HttpRequest) -> str:
    """The ``next`` parameter if it stays on this site (R20), else ``TOTP_REDIRECT_URL``."""
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    # SECURITY: only relative or same-host URLs, with https kept on secure requests.
    if (
        candidate
        and url_has_allowed_host_and_scheme(
            candidate, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        )
        and not is_logout_url(candidate, getattr(request, "urlconf", None))
    ):
        return candidate
    return resolve_url(conf.TOTP_REDIRECT_URL)


def is_logout(match: ResolverMatch) -> bool:
    """Whether ``match`` is a logout: ``TOTP_LOGOUT_URL``, a ``LogoutView``, any admin site's.

    Django's admin logout is ``AdminSite.logout``, a method wrapped by ``admin_view``, not a
    ``LogoutView``; it is recognised on every admin site, custom ones included. Wagtail's
    admin logout subclasses ``LogoutView``.
    """
    if match.view_name == conf.TOTP_LOGOUT_URL:
        return True
    view = inspect.unwrap(match.func)
    view_class = getattr(match.func, "view_class", None) or getattr(view, "view_class", None)
    if view_class is not None and issubclass(view_class, LogoutView):
        return True
    if isinstance(getattr(view, "__self__", None), AdminSite):
        return getattr(view, "__name__", "") == "logout"
    return bool(match.app_names and match.app_names[-1] == "admin" and match.url_name == "logout")


def is_logout_url(url: str, urlconf: str | None = None) -> bool:
    """Whether ``url`` (a path, maybe with a query, or a same-site URL) is a logout."""
    path = urlsplit(url).path
    prefix = get_script_prefix()
    if not path.startswith(prefix):
        return False
    try:
        match = resolve("/" + path[len(prefix) :], urlconf)
    except Resolver404:
        return False
    return is_logout(match) or path == conf.TOTP_LOGOUT_URL
