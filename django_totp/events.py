"""The security log (R15) and the signals that follow each attempt or change.

Never pass a code, a secret or a recovery code to anything here.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from . import signals
from .models import Device, TOTPDevice, kind_of

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest

    from .services import Result

logger = logging.getLogger("django_totp")


def client_ip(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def log_event(
    event: str,
    *,
    user: AbstractBaseUser | AnonymousUser | None,
    device: Device | None = None,
    request: HttpRequest | None = None,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """One structured security record (R15). Never pass codes or secrets here."""
    record = {
        "event": event,
        "user_id": getattr(user, "pk", None),
        "device_id": device.pk if device is not None else None,
        "device_kind": str(kind_of(device)) if device is not None else None,
        "ip": client_ip(request),
        "time": timezone.now().isoformat(),
        **fields,
    }
    logger.log(
        level,
        "totp %s user=%s device=%s ip=%s",
        event,
        record["user_id"],
        record["device_id"],
        record["ip"],
        extra={"totp": record},
    )


def report_attempt(
    result: Result,
    user: AbstractBaseUser,
    request: HttpRequest | None,
    *,
    event: str,
    detail: str | None = None,
) -> None:
    """Signal and log an attempt: ``event`` is ``verified``, ``enrolled`` or ``recovery``.

    ``detail`` says more about a refusal in the log (a security key's response: which check
    failed); never pass what the user sent.
    """
    if result.accepted:
        if event == "recovery":
            left = result.recovery_codes_left
            signals.recovery_code_used.send(TOTPDevice, user=user, request=request, remaining=left)
            log_event("recovery_code_used", user=user, request=request, remaining=left)
            return
        signal = signals.device_confirmed if event == "enrolled" else signals.verification_succeeded
        method = str(result.method)
        signal.send(TOTPDevice, user=user, device=result.device, request=request, method=method)
        log_event(event, user=user, device=result.device, request=request, method=method)
        return
    method = str(result.method)
    signals.verification_failed.send(
        TOTPDevice,
        user=user,
        device=result.device,
        request=request,
        reason=result.outcome,
        method=method,
    )
    extra = {"detail": detail} if detail is not None else {}
    log_event(
        f"{event}_refused",
        user=user,
        device=result.device,
        request=request,
        level=logging.WARNING,
        reason=result.outcome.value,
        method=method,
        **extra,
    )
    for device in result.repeated_failures:
        signals.repeated_failures.send(
            TOTPDevice, user=user, device=device, request=request, failures=device.failure_count
        )
    for counter in result.newly_locked:
        if isinstance(counter, TOTPDevice):
            signals.device_locked.send(TOTPDevice, user=user, device=counter, request=request)
            log_event("locked", user=user, device=counter, request=request, level=logging.WARNING)
        else:
            log_event("recovery_locked", user=user, request=request, level=logging.WARNING)


def report_removed(
    user: AbstractBaseUser,
    device: Device,
    device_id: int,
    request: HttpRequest | None,
    *,
    event: str,
) -> None:
    """``device`` is deleted (its ``pk`` is ``None``); ``device_id`` is the id it had."""
    signals.device_removed.send(TOTPDevice, user=user, device=device, actor=user, request=request)
    log_event(event, user=user, request=request, removed_device_id=device_id)
