"""What a staff screen asks of the staff member's own session before it resets or unlocks others.

Django's admin (``django_totp.admin``) and Wagtail's user pages (``django_totp.contrib.wagtail``)
both call these, with ``policy.may_reset`` / ``policy.may_unlock`` (or the admin's permissions)
for the user acted on; the services check ``policy.may_manage`` again.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.utils.translation import gettext_lazy as _

from . import session, stepup
from .conf import conf
from .redirects import url_with_next


def staff_is_verified(request: HttpRequest) -> bool:
    """Only a staff session verified with its own device may reset or unlock others (R24)."""
    if session.state_of(request).is_verified:
        return True
    messages.error(
        request,
        _("Set up and verify your own two-factor authentication before changing others'."),
    )
    return False


def ask_staff_for_code(request: HttpRequest) -> HttpResponse | None:
    """The code page, which comes back here, unless this session typed a code recently.

    A verified staff member resets or unlocks others only with a code (or recovery code) typed
    within ``TOTP_STEP_UP_SECONDS``, like any change to 2FA (R24, R28).
    """
    # SECURITY: a staff password and a remembered browser must not reset anyone (R28).
    if stepup.satisfied(request):
        return None
    messages.info(request, _("Enter a code from your app to confirm it's you."))
    return HttpResponseRedirect(url_with_next(conf.TOTP_VERIFY_URL, request.get_full_path()))
