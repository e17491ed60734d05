"""Reset and unlock from Wagtail's user list, for sites that do not mount Django's admin.

Mounted inside Wagtail's admin (``register_admin_urls``), so only sessions with
``wagtailadmin.access_admin`` get here. The rules are the Django admin's, from where they live:
``policy.may_reset`` / ``policy.may_unlock`` for the user acted on, ``staff`` for the staff
member's own session, ``services`` for the change itself. These views ask and explain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.log_actions import log

from django_totp import policy, services
from django_totp.models import Device, TOTPDevice, WebAuthnCredential, pk_value
from django_totp.staff import ask_staff_for_code, staff_is_verified
from django_totp.users import signed_in_user
from django_totp.views import deny_framing

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django_stubs_ext import StrOrPromise

USER_LIST = "wagtailusers_users:index"
RESET_URL_NAME = "django_totp_wagtail_reset"
UNLOCK_URL_NAME = "django_totp_wagtail_unlock"
# Wagtail's audit log (its "Site history" report), beside django_totp's own security log.
RESET_ACTION = "django_totp.reset"
UNLOCK_ACTION = "django_totp.unlock"


@dataclass(frozen=True)
class Operation:
    """Reset or unlock: who may, on which devices, and what to say."""

    allowed: Callable[[AbstractBaseUser | AnonymousUser, AbstractBaseUser], bool]
    devices: Callable[[AbstractBaseUser], list[Device]]
    nothing_to_do: StrOrPromise
    title: StrOrPromise
    template: str
    perform: Callable[[HttpRequest, AbstractBaseUser, list[Device]], None]
    done: Callable[[int], str]
    log_action: str


def _reset(request: HttpRequest, user: AbstractBaseUser, devices: list[Device]) -> None:
    services.reset_user(user, actor=signed_in_user(request), request=request)


def _unlock(request: HttpRequest, user: AbstractBaseUser, devices: list[Device]) -> None:
    for device in devices:
        assert isinstance(device, TOTPDevice)  # UNLOCK lists apps: only apps count failures
        services.unlock_device(device, actor=signed_in_user(request), request=request)


def _all_devices(user: AbstractBaseUser) -> list[Device]:
    """Apps and security keys: a reset takes both, also from a user with keys only (W6)."""
    apps = TOTPDevice.objects.filter(user_id=user.pk).select_related("user")
    keys = WebAuthnCredential.objects.filter(user_id=user.pk).select_related("user")
    return [*apps, *keys]


RESET = Operation(
    allowed=policy.may_reset,
    devices=_all_devices,
    nothing_to_do=_("This user has no two-factor devices."),
    title=_("Reset two-factor authentication?"),
    template="django_totp/wagtail/confirm_reset.html",
    perform=_reset,
    done=lambda count: (
        ngettext(
            "Two-factor authentication was reset for %(count)d user.",
            "Two-factor authentication was reset for %(count)d users.",
            count,
        )
        % {"count": count}
    ),
    log_action=RESET_ACTION,
)

UNLOCK = Operation(
    allowed=policy.may_unlock,
    devices=lambda user: list(
        TOTPDevice.objects.filter(user_id=user.pk).with_failures().select_related("user")
    ),
    nothing_to_do=_("No device of this user has failed attempts."),
    title=_("Unlock these devices?"),
    template="django_totp/wagtail/confirm_unlock.html",
    perform=_unlock,
    done=lambda count: (
        ngettext("%(count)d device unlocked.", "%(count)d devices unlocked.", count)
        % {"count": count}
    ),
    log_action=UNLOCK_ACTION,
)


def reset(request: HttpRequest, user_pk: str) -> HttpResponse:
    """GET: the confirmation page; POST with ``confirmed=yes``: reset the user's 2FA."""
    return confirm_and_act(request, user_pk, RESET)


def unlock(request: HttpRequest, user_pk: str) -> HttpResponse:
    """GET: the confirmation page; POST with ``confirmed=yes``: clear the user's failures."""
    return confirm_and_act(request, user_pk, UNLOCK)


def confirm_and_act(request: HttpRequest, user_pk: str, operation: Operation) -> HttpResponse:
    user = _user_or_404(user_pk)
    # SECURITY: the Django admin's permission and "only superusers act on superusers" (R32).
    if not operation.allowed(request.user, user):
        raise PermissionDenied
    back = reverse(USER_LIST)
    # SECURITY: the staff member's own session verified, and a code typed recently (R24, R28).
    if not staff_is_verified(request):
        return HttpResponseRedirect(back)
    if (asked := ask_staff_for_code(request)) is not None:
        return asked
    devices = operation.devices(user)
    if not devices:
        messages.info(request, operation.nothing_to_do)
        return HttpResponseRedirect(back)
    # SECURITY: GET only asks; the change needs a POST, which CsrfViewMiddleware checks (R21).
    if request.method != "POST" or request.POST.get("confirmed") != "yes":
        context = {
            "page_title": operation.title,
            "header_icon": "lock",
            "target": user,
            "devices": devices,
            "cancel_url": back,
        }
        return deny_framing(request, TemplateResponse(request, operation.template, context))
    operation.perform(request, user, devices)
    log(instance=user, action=operation.log_action, user=request.user)
    count = 1 if operation is RESET else len(devices)
    messages.success(request, operation.done(count))
    return HttpResponseRedirect(back)


def _user_or_404(user_pk: str) -> AbstractBaseUser:
    user_model = get_user_model()
    pk = pk_value(user_model, user_pk)
    try:
        if pk is None:  # no row can have it
            raise user_model.DoesNotExist
        return user_model._default_manager.get(pk=pk)
    except (user_model.DoesNotExist, ValidationError, ValueError):
        raise Http404(_("No such user.")) from None
