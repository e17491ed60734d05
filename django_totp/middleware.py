"""Enforcement: an authenticated session reaches the site only after its second factor (R16)."""

from __future__ import annotations

import datetime
import enum
import functools
from collections.abc import Awaitable, Callable

from asgiref.sync import iscoroutinefunction, markcoroutinefunction, sync_to_async
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.staticfiles import views as staticfiles_views
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import resolve_url
from django.urls import Resolver404, resolve
from django.utils.formats import date_format
from django.utils.functional import SimpleLazyObject
from django.utils.timezone import localtime
from django.utils.translation import gettext as _
from django.views import static

from . import session
from .conf import conf
from .redirects import is_logout, url_with_next

Response = HttpResponse | None

# SECURITY: under STATIC_URL and MEDIA_URL only these, or no view at all, are exempt; a view
# of the site that happens to live there is enforced like any other (R30).
FILE_SERVING_VIEWS = (static.serve, staticfiles_views.serve)

# URL names that installed apps let through before the second factor (``exempt_url_names``).
_app_exempt_url_names: set[str] = set()


def exempt_url_names(*names: str) -> None:
    """Let every authenticated session reach the views named ``names`` before the code.

    For apps, from their ``AppConfig.ready()``: the assets their look of the 2FA pages loads,
    such as Wagtail's icon sprite and JavaScript catalogue (``django_totp.contrib.wagtail``).
    Each name is matched exactly as ``resolve()`` reports it (``"namespace:name"`` when
    namespaced), like the names in ``TOTP_EXEMPT_URLS``, which is where a site adds its own.
    """
    _app_exempt_url_names.update(names)


def app_exempt_url_names() -> frozenset[str]:
    """The names apps made exempt with ``exempt_url_names``."""
    return frozenset(_app_exempt_url_names)


class Step(enum.Enum):
    """What an authenticated request still lacks before it may reach the site."""

    SIGN_IN_AGAIN = "sign_in_again"
    VERIFY = "verify"
    ENROL = "enrol"


def step_required(request: HttpRequest, state: session.TOTPState) -> Step | None:
    """The one rule of enforcement: what ``request.user`` must still do, or ``None``.

    ``state`` is ``session.load_state(request)``. The middleware acts on the answer for
    sessions, and ``drf.IsTwoFactorVerified`` for requests DRF authenticates in its views.
    """
    if state.is_verified:
        return None
    # SECURITY: a reset usually follows a lost or stolen phone; sessions it verified are
    # signed out on their next request, whatever the policy (R17, R24).
    if state.revoked:
        return Step.SIGN_IN_AGAIN
    # SECURITY: checked before the verify and setup pages are let through, so a code typed
    # after the password-only stage expired does not count (R19).
    if (state.has_device or state.must_enrol) and session.pending_expired(request):
        return Step.SIGN_IN_AGAIN
    if state.has_device:
        return Step.VERIFY
    if state.must_enrol:
        return Step.ENROL
    return None


class TOTPMiddleware:
    """Sends every authenticated but unverified session to the verify page.

    Users without a device whom ``TOTP_REQUIRED_FOR`` covers go to enrolment instead. Only the
    verify, recovery-code and enrolment pages, logout, static and media files,
    ``TOTP_EXEMPT_URLS`` and views marked ``@totp_exempt`` are reachable before that. Requests
    that want JSON get a 403 JSON body instead of a redirect. Sets ``request.totp`` (a lazy
    ``session.TOTPState``) and, for async views, ``await request.atotp()`` (the same state).
    """

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponse | Awaitable[HttpResponse]]
    ) -> None:
        self.get_response = get_response
        # SECURITY: app servers run no system checks; a misconfigured site refuses to start
        # rather than enforce less than it says (R34). conf checks each value again when read.
        errors = conf.errors()
        if errors:
            raise errors[0]
        self.is_async = iscoroutinefunction(self.get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> HttpResponse | Awaitable[HttpResponse]:
        if self.is_async:
            return self.__acall__(request)
        return self.intercept(request) or self.get_response(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponse:
        # The user and device lookups are database queries, so the decision runs in a thread.
        response = await sync_to_async(self.intercept_for_async)(request)
        return response or await self.get_response(request)  # type: ignore[misc]

    def intercept_for_async(self, request: HttpRequest) -> Response:
        """``intercept``, and the state loaded for an async view while still in the thread.

        An async view runs in the event loop, where ``request.totp``'s query would raise
        ``SynchronousOnlyOperation``; loaded here it is safe to read, as is ``atotp()``. It
        costs a query only where the decision did not need one: exempt pages of unverified
        sessions.
        """
        response = self.intercept(request)
        if response is None:
            _load_now(request)
        return response

    def intercept(self, request: HttpRequest) -> Response:
        """The response that replaces the view, or ``None`` to let the request through."""
        # One load serves both: request.totp in sync code, await request.atotp() in async
        # views, where the lazy object's query would raise SynchronousOnlyOperation.
        session.set_state(request, SimpleLazyObject(functools.partial(session.load_state, request)))
        # ``atotp`` is django_totp's own attribute: HttpRequest does not declare it.
        request.atotp = functools.partial(_aload, request)  # type: ignore[attr-defined]
        if not request.user.is_authenticated:
            return None
        # The common case first: it needs neither a query nor is_exempt's URL resolution, and
        # exempt pages still cost an unverified session no query.
        if session.holds_trusted_record(request) or is_exempt(request):
            return None
        state = session.state_of(request)
        step = step_required(request, state)
        if step is None and state.enrol_by is not None:
            remind_to_enrol(request, state.enrol_by)
        if step is Step.SIGN_IN_AGAIN:
            return self.restart_login(request)
        if step is Step.VERIFY:
            if request.path == resolve_url(conf.TOTP_RECOVERY_URL):
                return None
            return self.require(
                request, conf.TOTP_VERIFY_URL, _("Two-factor verification required.")
            )
        if step is Step.ENROL:
            # The verify page sends users without a device on to setup, keeping their ``next``.
            if request.path == resolve_url(conf.TOTP_VERIFY_URL):
                return None
            # A security key satisfies the policy as an app does (W6).
            if conf.TOTP_WEBAUTHN and request.path == resolve_url("django_totp:add_key"):
                return None
            return self.require(request, conf.TOTP_SETUP_URL, _("Two-factor enrolment required."))
        return None

    @staticmethod
    def require(request: HttpRequest, target: str, message: str) -> Response:
        """Let ``target`` itself through; send everything else there."""
        url = resolve_url(target)
        if request.path == url:
            return None
        if _wants_json(request):
            return JsonResponse({"detail": message, "redirect": url}, status=403)
        urlconf = getattr(request, "urlconf", None)
        return HttpResponseRedirect(url_with_next(url, request.get_full_path(), urlconf))

    @staticmethod
    def restart_login(request: HttpRequest) -> HttpResponse:
        """Drop the login and ask for the password again (pending stage expired, or revoked)."""
        next_url = request.get_full_path()
        logout(request)
        if _wants_json(request):
            return JsonResponse({"detail": _("Please sign in again.")}, status=401)
        messages.info(request, _("Please sign in again."), fail_silently=True)
        urlconf = getattr(request, "urlconf", None)
        return HttpResponseRedirect(url_with_next(settings.LOGIN_URL, next_url, urlconf))


def is_exempt(request: HttpRequest) -> bool:
    """Pages any authenticated session may reach: files, logout, and what the site exempts."""
    path = request.path_info
    exempt = conf.TOTP_EXEMPT_URLS
    if any(is_under(path, prefix) for prefix in exempt if prefix.startswith("/")):
        return True
    try:
        match = resolve(path, getattr(request, "urlconf", None))
    except Resolver404:
        # Nothing of the site answers here: a file the web server serves, or Django's 404.
        return is_file_path(request)
    if match.func in FILE_SERVING_VIEWS and is_file_path(request):
        return True
    return bool(
        getattr(match.func, "totp_exempt", False)
        or is_logout(match)
        or match.view_name in exempt
        # SECURITY: only the exact names apps registered, each a view that shows nothing of
        # the site (a sprite, a translation catalogue); never a prefix or a namespace (R30).
        or match.view_name in _app_exempt_url_names
        or path == conf.TOTP_LOGOUT_URL
    )


def is_file_path(request: HttpRequest) -> bool:
    """Whether the request is under ``STATIC_URL`` or ``MEDIA_URL`` (site-relative ones)."""
    # Both carry the script prefix, as request.path does; an empty MEDIA_URL reads as "/".
    prefixes = (settings.STATIC_URL, settings.MEDIA_URL)
    return any(is_under(request.path, p) for p in prefixes if p and p != "/" and p[0] == "/")


def is_under(path: str, prefix: str) -> bool:
    """Whether ``path`` is ``prefix`` or below it, matching whole path segments (R30)."""
    if prefix.endswith("/"):
        return path.startswith(prefix)
    # SECURITY: "/api/health" must not exempt its sibling "/api/health-admin/".
    return path == prefix or path.startswith(prefix + "/")


def remind_to_enrol(request: HttpRequest, deadline: datetime.datetime) -> None:
    """Once a session, in the grace period: set up 2FA before ``deadline`` (a message)."""
    if request.session.get(session.REMINDED_KEY):
        return
    request.session[session.REMINDED_KEY] = True
    message = _(
        "Please set up two-factor authentication before %(date)s; after that you will need it "
        "to sign in."
    ) % {"date": date_format(localtime(deadline), "DATE_FORMAT")}
    messages.warning(request, message, fail_silently=True)


async def _aload(request: HttpRequest) -> session.TOTPState:
    """``await request.atotp()``: the session's state, loaded in a thread (the queries)."""
    return await sync_to_async(_load_now)(request)


def _load_now(request: HttpRequest) -> session.TOTPState:
    """``request.totp``, loaded now (in a thread, on the async path)."""
    state = session.state_of(request)
    _ = state.is_verified  # a lazy object runs its query on first attribute access
    return state


def _wants_json(request: HttpRequest) -> bool:
    return request.headers.get("x-requested-with") == "XMLHttpRequest" or not request.accepts(
        "text/html"
    )
