from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.http import HttpRequest

from . import revocation, services, session
from .conf import conf
from .models import Device, kind_of

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


def start_pending_stage(
    sender: Any, request: HttpRequest | None, user: AbstractBaseUser, **kwargs: Any
) -> None:
    """A password login starts the pending stage: only a code verifies the new session.

    A valid "remember this browser" cookie counts as that code (R23): it is checked here,
    right after the password, so it can never stand in for the password.
    """
    if request is None or not hasattr(request, "session"):
        return
    session.start_pending(request)
    services.tell_of_staff_reset(request, user)
    if session.signing_in_with_both_factors(request):
        return  # a passkey: its own record follows, no remembered browser is looked for
    cookie = request.COOKIES.get(conf.TOTP_REMEMBER_COOKIE_NAME)
    services.sign_in_remembered(request, user, cookie)


def end_device_sessions(sender: Any, instance: Device, **kwargs: Any) -> None:
    """Whatever removes a device of either kind (services, the admin, a shell), its sessions
    end (R17, R27, W6)."""
    revocation.end_sessions([instance.pk], kind=kind_of(instance))
