"""Passkey sign-in's two endpoints, which the ``{% totp_passkey_sign_in %}`` button calls.

Thin: ``passkeys`` decides. ``begin`` is a POST (it stores a challenge, and GET never changes
state: R21) answered with JSON; ``finish`` is the form post of the browser's answer, like a code.
"""

from __future__ import annotations

import json

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import passkeys
from .redirects import safe_next, url_with_next
from .views import frame_denied


def refused_message() -> str:
    """The one answer to every refused passkey sign-in, whatever the reason (W10)."""
    return _("This passkey could not be used to sign in. Try again, or sign in with your password.")


def passkey_messages() -> dict[str, str]:
    """What ``passkey.js`` tells the user when the browser's part fails, translated here."""
    return {
        "cancelled": _("The passkey was not used: cancelled, or it took too long."),
        "failed": refused_message(),
        "limited": _("Too many sign-in attempts. Wait a minute, then try again."),
    }


@method_decorator([never_cache, frame_denied], name="dispatch")
class PasskeyBeginView(View):
    """Options for ``navigator.credentials.get()``, as JSON; 429 past the rate limits."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not passkeys.enabled():
            raise Http404
        try:
            options = passkeys.begin(request)
        except passkeys.RateLimited as limited:
            response = JsonResponse(
                {"detail": passkey_messages()["limited"], "retry_after": limited.retry_after},
                status=429,
            )
            response["Retry-After"] = str(limited.retry_after)
            return response
        return JsonResponse(json.loads(options))


@method_decorator(
    [never_cache, sensitive_post_parameters("credential"), frame_denied], name="dispatch"
)
class PasskeyFinishView(View):
    """The browser's answer: signed in and on to a safe ``next`` (R20), or back to the login
    page with the one refusal message (W10)."""

    http_method_names = ["post"]

    def post(self, request: HttpRequest) -> HttpResponse:
        if not passkeys.enabled():
            raise Http404
        signed_in = passkeys.finish(request, request.POST.get("credential"))
        if signed_in.accepted:
            return HttpResponseRedirect(safe_next(request))
        messages.error(request, refused_message())
        # Back to the site's login page, keeping ``next`` only where it is safe (R20).
        target = safe_next(request)
        next_url = target if target == request.POST.get("next") else None
        return HttpResponseRedirect(url_with_next(settings.LOGIN_URL, next_url))
