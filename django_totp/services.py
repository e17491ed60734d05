"""The only code that verifies, confirms, resets or unlocks devices.

Each function runs in one transaction with the device rows locked (``select_for_update``, which
serializes concurrent submissions on PostgreSQL), and the replay guard and failure counter are
written with conditional / relative ``UPDATE`` statements so that they stay exact on databases
without row locks (SQLite). Signals and security log records are emitted after the change.
"""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.db import connections, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from . import oath, signals
from .models import TOTPDevice

if TYPE_CHECKING:
    from django.http import HttpRequest

logger = logging.getLogger("django_totp")


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    INVALID = "invalid"
    REPLAYED = "replayed"
    THROTTLED = "throttled"
    LOCKED = "locked"
    NO_DEVICE = "no_device"
    EXPIRED = "expired"


@dataclass(frozen=True)
class Result:
    """What a verification attempt came to.

    ``device`` is the device that accepted the code, or the one that refused it when there was
    exactly one; ``retry_after`` is the back-off left, in seconds, for ``THROTTLED``;
    ``newly_locked`` the devices this failure locked; ``locked_out`` whether none is left open.
    """

    outcome: Outcome
    device: TOTPDevice | None = None
    retry_after: int = 0
    newly_locked: tuple[TOTPDevice, ...] = ()
    locked_out: bool = False

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


def client_ip(request: HttpRequest | None) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


def log_event(
    event: str,
    *,
    user: Any,
    device: TOTPDevice | None = None,
    request: HttpRequest | None = None,
    level: int = logging.INFO,
    **fields: Any,
) -> None:
    """One structured security record (R15). Never pass codes or secrets here."""
    record = {
        "event": event,
        "user_id": getattr(user, "pk", None),
        "device_id": device.pk if device is not None else None,
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


def _single(devices: Sequence[TOTPDevice]) -> TOTPDevice | None:
    """The device a result is about, when exactly one was in play."""
    return devices[0] if len(devices) == 1 else None


def _check_locked_devices(devices: Sequence[TOTPDevice], raw_code: str) -> Result:
    """Try ``raw_code`` against devices whose rows the caller holds locked."""
    now = timezone.now()
    at = time.time()
    open_devices = [d for d in devices if not d.is_locked]
    if not open_devices:
        return Result(Outcome.LOCKED, _single(devices))
    waits = [d.throttle_remaining(now) for d in open_devices]
    ready = [d for d, wait in zip(open_devices, waits, strict=True) if wait == 0]
    # SECURITY: the back-off is enforced before the code is looked at, so a correct code
    # during it is refused too (R13).
    if not ready:
        return Result(Outcome.THROTTLED, _single(open_devices), retry_after=min(waits))

    replayed = False
    for device in ready:
        code = oath.normalize_code(raw_code, device.digits)
        if code is None:
            continue
        step, was_replay = device.match(code, at)
        replayed = replayed or was_replay
        if step is not None and device.consume_step(step, now):
            return Result(Outcome.ACCEPTED, device)
        # A concurrent request consumed this step first: that is a replay of it.
        replayed = replayed or step is not None

    for device in ready:
        device.record_failure(now)
    return Result(
        Outcome.REPLAYED if replayed else Outcome.INVALID,
        _single(ready),
        newly_locked=tuple(d for d in ready if d.is_locked),
        locked_out=all(d.is_locked for d in open_devices),
    )


def _report(result: Result, user: Any, request: HttpRequest | None, *, event: str) -> None:
    if result.accepted:
        signal = signals.device_confirmed if event == "enrolled" else signals.verification_succeeded
        signal.send(TOTPDevice, user=user, device=result.device, request=request)
        log_event(event, user=user, device=result.device, request=request)
        return
    signals.verification_failed.send(
        TOTPDevice, user=user, device=result.device, request=request, reason=result.outcome
    )
    log_event(
        f"{event}_refused",
        user=user,
        device=result.device,
        request=request,
        level=logging.WARNING,
        reason=result.outcome.value,
    )
    for device in result.newly_locked:
        signals.device_locked.send(TOTPDevice, user=user, device=device, request=request)
        log_event("locked", user=user, device=device, request=request, level=logging.WARNING)


def lock_devices(devices: QuerySet[TOTPDevice]) -> list[TOTPDevice]:
    """The devices, locked until the end of the current transaction."""
    if connections[devices.db].features.has_select_for_update:
        return list(devices.select_for_update().order_by("pk"))
    # SECURITY: SQLite has no row locks. A write as the transaction's first statement takes
    # the database write lock now, so concurrent attempts queue on the busy timeout instead of
    # deadlocking on a read-to-write upgrade ("database is locked") (R10).
    devices.update(failure_count=F("failure_count"))
    return list(devices.order_by("pk"))


def verify_code(user: Any, raw_code: str, *, request: HttpRequest | None = None) -> Result:
    """Check a code typed by ``user`` against their confirmed devices.

    Applies, in this order and under a row lock: the hard lock (R14), the back-off (R13),
    strict input (R12), the ±``TOTP_TOLERANCE`` window on server time (R8) and the replay rule
    (R9). Records the success or failure, then sends signals and logs the event. Does not touch
    the session: callers pass an accepted result to ``session.mark_verified``.
    """
    with transaction.atomic():
        devices = lock_devices(TOTPDevice.objects.confirmed().filter(user=user))
        if not devices:
            return Result(Outcome.NO_DEVICE)
        result = _check_locked_devices(devices, raw_code)
    _report(result, user, request, event="verified")
    return result


def start_setup(user: Any) -> TOTPDevice:
    """Begin enrolment: a new unconfirmed device replaces any earlier unconfirmed one."""
    with transaction.atomic():
        TOTPDevice.objects.pending().filter(user=user).delete()
        device = TOTPDevice.new_pending(user)
        device.save()
    return device


def pending_device(user: Any) -> TOTPDevice | None:
    """The user's unconfirmed device, unless its enrolment has expired (R4)."""
    device = TOTPDevice.objects.pending().filter(user=user).order_by("-created_at").first()
    if device is None or device.setup_expired(timezone.now()):
        return None
    return device


def confirm_device(
    device: TOTPDevice, raw_code: str, *, request: HttpRequest | None = None
) -> Result:
    """Activate an unconfirmed device once a code from it checks out (R4)."""
    with transaction.atomic():
        found = lock_devices(TOTPDevice.objects.pending().filter(pk=device.pk))
        if not found:
            return Result(Outcome.NO_DEVICE)
        locked = found[0]
        if locked.setup_expired(timezone.now()):
            return Result(Outcome.EXPIRED, locked)
        result = _check_locked_devices([locked], raw_code)
        if result.accepted:
            locked.mark_confirmed(timezone.now())
    _report(result, locked.user, request, event="enrolled")
    return result


def reset_user(
    user: Any, *, actor: Any = None, request: HttpRequest | None = None, event: str = "reset"
) -> int:
    """Remove all of ``user``'s devices; their sessions are de-verified on the next request.

    Returns the number of devices removed.
    """
    with transaction.atomic():
        device_ids = list(TOTPDevice.objects.filter(user=user).values_list("pk", flat=True))
        TOTPDevice.objects.filter(pk__in=device_ids).delete()
    signals.devices_reset.send(
        TOTPDevice, user=user, actor=actor, request=request, device_ids=device_ids
    )
    log_event(
        event,
        user=user,
        request=request,
        actor_id=getattr(actor, "pk", None),
        device_ids=device_ids,
    )
    return len(device_ids)


def disable_for_user(user: Any, *, request: HttpRequest | None = None) -> int:
    """The user turns two-factor authentication off: all their devices are removed.

    Callers check step-up (R5) and the policy first; see ``views.DisableView``.
    """
    return reset_user(user, actor=user, request=request, event="disabled")


def unlock_device(
    device: TOTPDevice, *, actor: Any = None, request: HttpRequest | None = None
) -> None:
    """Clear a device's failures so its owner can try again (R14)."""
    device.unlock()
    signals.device_unlocked.send(
        TOTPDevice, user=device.user, device=device, actor=actor, request=request
    )
    actor_id = getattr(actor, "pk", None)
    log_event("unlocked", user=device.user, device=device, request=request, actor_id=actor_id)
