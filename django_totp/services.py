"""The only code that verifies, confirms, removes, resets or unlocks devices and recovery codes.

Each function runs in one transaction with the affected rows locked (``select_for_update``, which
serializes concurrent submissions on PostgreSQL), and the replay guard and failure counter are
written with conditional / relative ``UPDATE`` statements so that they stay exact on databases
without row locks (SQLite). Signals and security log records are emitted after the change.
"""

from __future__ import annotations

import datetime
import enum
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from . import (
    crypto,
    events,
    oath,
    recovery,
    remember,
    revocation,
    session,
    signals,
    stepup,
)
from .conf import conf
from .models import (
    Device,
    DeviceKind,
    FailureCounter,
    RecoveryCode,
    RecoveryCodeScheme,
    TOTPAccount,
    TOTPDevice,
    VerificationMethod,
    WebAuthnCredential,
    active_devices,
    lock_rows,
)
from .policy import end_enrolment_grace, enrolment_required, may_manage
from .users import signed_in_user

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest


class Outcome(enum.StrEnum):
    ACCEPTED = "accepted"
    INVALID = "invalid"
    REPLAYED = "replayed"
    THROTTLED = "throttled"
    LOCKED = "locked"
    NO_DEVICE = "no_device"
    EXPIRED = "expired"
    # Security keys (``ceremonies``): a signed counter that did not rise (W3), and a key
    # registered already (W4).
    CLONED = "cloned"
    DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Result:
    """What a verification attempt came to.

    ``device`` is the device that accepted the code or assertion (for a recovery code: the
    device the session is recorded against), or the one that refused it when there was exactly
    one;
    ``retry_after`` is the back-off left, in seconds, for ``THROTTLED``; ``newly_locked`` the
    devices (or the recovery-code counter) this failure locked; ``repeated_failures`` the
    devices whose consecutive failures this one brought to ``TOTP_NOTIFY_FAILURES_AFTER``;
    ``locked_out`` whether nothing is left open. ``recovery_codes`` are the new codes a first
    confirmed device comes with, to show once; ``recovery_codes_left`` the unused codes after a
    recovery code was accepted.
    """

    outcome: Outcome
    device: Device | None = None
    retry_after: int = 0
    newly_locked: tuple[FailureCounter, ...] = ()
    repeated_failures: tuple[TOTPDevice, ...] = ()
    locked_out: bool = False
    recovery_codes: tuple[str, ...] = ()
    recovery_codes_left: int | None = None
    method: VerificationMethod = VerificationMethod.CODE

    @property
    def accepted(self) -> bool:
        return self.outcome is Outcome.ACCEPTED


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
        # SECURITY: equality, not >=: told once a streak, as the count passes the threshold
        # (exact under the row lock); a lock at the same count has its own notice (R35).
        repeated_failures=tuple(
            d
            for d in ready
            if d.failure_count == conf.TOTP_NOTIFY_FAILURES_AFTER and not d.is_locked
        ),
        locked_out=all(d.is_locked for d in open_devices),
    )


def locked_account(user: AbstractBaseUser) -> TOTPAccount:
    """The user's account row, created if needed, locked until the end of the transaction.

    Lock order, to keep PostgreSQL free of deadlocks: a user's account row before their device
    rows, in every transaction that takes both.
    """
    # Lock first: on SQLite a read before the locking write would deadlock concurrent callers.
    found = lock_rows(TOTPAccount.objects.filter(user_id=user.pk))
    if found:
        return found[0]
    TOTPAccount.objects.get_or_create(user_id=user.pk)
    return lock_rows(TOTPAccount.objects.filter(user_id=user.pk))[0]


def verify_code(
    user: AbstractBaseUser, raw_code: str, *, request: HttpRequest | None = None
) -> Result:
    """Check a code typed by ``user`` against their confirmed devices.

    Applies, in this order and under a row lock: the hard lock (R14), the back-off (R13),
    strict input (R12), the window of ± ``TOTP_TOLERANCE`` steps on server time (R8) and the
    replay rule (R9). Records the success or failure, then sends signals and logs the event. Does
    not touch the session: callers pass an accepted result to ``session.mark_verified``.
    """
    with transaction.atomic():
        devices = lock_rows(TOTPDevice.objects.confirmed().filter(user_id=user.pk))
        if not devices:
            return Result(Outcome.NO_DEVICE)
        result = _check_locked_devices(devices, raw_code)
    events.report_attempt(result, user, request, event="verified")
    return result


def start_setup(request: HttpRequest, *, replaces: int | None = None) -> TOTPDevice:
    """Begin enrolment in this session: a new unconfirmed device, shown to this session only.

    It replaces this session's earlier unconfirmed device; other sessions of the user keep
    theirs and never see this one (R31). An enrolled user needs step-up first (R5).
    ``replaces`` names one of the user's confirmed devices to remove when this one is
    confirmed, so moving to a new phone is one step (R25); other ids are ignored.
    """
    stepup.require(request)
    user = signed_in_user(request)
    with transaction.atomic():
        locked_account(user)
        expired = timezone.now() - datetime.timedelta(seconds=conf.TOTP_SETUP_TIMEOUT)
        earlier = session.pending_setup_id(request)
        TOTPDevice.objects.pending().filter(user_id=user.pk).filter(
            Q(pk=earlier) | Q(created_at__lt=expired)
        ).delete()
        device = TOTPDevice.new_pending(user)
        if replaces is not None:
            device.replaces = (
                TOTPDevice.objects.confirmed().filter(user_id=user.pk, pk=replaces).first()
            )
        device.save()
    session.start_setup(request, device.pk)
    return device


def pending_device(request: HttpRequest) -> TOTPDevice | None:
    """This session's unconfirmed device, unless its enrolment has expired (R4, R31)."""
    device_id = session.pending_setup_id(request)
    if device_id is None:
        return None
    device = (
        TOTPDevice.objects.pending()
        .filter(user_id=signed_in_user(request).pk, pk=device_id)
        .first()
    )
    if device is None or device.setup_expired(timezone.now()):
        return None
    return device


def confirm_device(
    device: TOTPDevice, raw_code: str, *, request: HttpRequest | None = None
) -> Result:
    """Activate an unconfirmed device once a code from it checks out (R4).

    The device it replaces, if any, is removed in the same transaction (R25). A user's first
    device comes with a new set of recovery codes, and makes remembered browsers of any earlier
    enrolment worthless (R22, R23).
    """
    with transaction.atomic():
        locked_account(device.user)
        found = lock_rows(TOTPDevice.objects.pending().filter(pk=device.pk))
        if not found:
            return Result(Outcome.NO_DEVICE)
        locked = found[0]
        if locked.setup_expired(timezone.now()):
            return Result(Outcome.EXPIRED, locked)
        result = _check_locked_devices([locked], raw_code)
        replaced = None
        if result.accepted:
            result, replaced = _activate(locked, result, request)
    events.report_attempt(result, locked.user, request, event="enrolled")
    if replaced is not None and locked.replaces_id is not None:
        # ``locked.replaces_id`` keeps the id in memory; the row's column is now NULL.
        events.report_removed(
            locked.user, replaced, locked.replaces_id, request, event="device_replaced"
        )
    return result


def _activate(
    device: TOTPDevice, result: Result, request: HttpRequest | None
) -> tuple[Result, TOTPDevice | None]:
    """Confirm ``device``; the result to report, and the device it replaced, if any."""
    user = device.user
    others = TOTPDevice.objects.confirmed().filter(user_id=user.pk).exclude(pk=device.pk)
    is_first = not has_devices(user, excluding=device)
    replaced = others.filter(pk=device.replaces_id).first() if device.replaces_id else None
    if replaced is not None:
        _spare_current_session(request, user, [(DeviceKind.TOTP, replaced.pk)])
        replaced.delete()
    device.mark_confirmed(timezone.now())
    if not is_first:
        return result, replaced
    return replace(result, recovery_codes=first_device_added(user)), replaced


def has_devices(user: AbstractBaseUser, *, excluding: Device | None = None) -> bool:
    """Whether ``user`` has an active device of any kind besides ``excluding``."""
    for kind in DeviceKind:
        devices = active_devices(kind).filter(user_id=user.pk)
        if excluding is not None and isinstance(excluding, devices.model):
            devices = devices.exclude(pk=excluding.pk)
        if devices.exists():
            return True
    return False


def first_device_added(user: AbstractBaseUser) -> tuple[str, ...]:
    """The user's first device of any kind is active (in the caller's transaction): the
    grace period ends, remembered browsers of an earlier enrolment stop working, and a new set
    of recovery codes is made; the codes, to show once (R22, R23)."""
    end_enrolment_grace(user)
    locked_account(user).forget_browsers()
    return tuple(_new_recovery_codes(user))


def _new_recovery_codes(user: AbstractBaseUser) -> list[str]:
    """Replace the user's recovery codes with a new set; the codes, grouped, to show once."""
    codes = recovery.generate_codes()
    RecoveryCode.objects.filter(user_id=user.pk).delete()
    RecoveryCode.objects.bulk_create(
        RecoveryCode(user_id=user.pk, digest=crypto.digests(code)[0]) for code in codes
    )
    return [recovery.group(code) for code in codes]


def regenerate_recovery_codes(request: HttpRequest) -> list[str]:
    """A new set of recovery codes; the previous set stops working at once (R22).

    Needs step-up (R5, R28).
    """
    stepup.require(request)
    user = signed_in_user(request)
    with transaction.atomic():
        locked_account(user)
        codes = _new_recovery_codes(user)
    signals.recovery_codes_regenerated.send(TOTPDevice, user=user, request=request)
    events.log_event("recovery_codes_generated", user=user, request=request)
    return codes


def recovery_codes_left(user: AbstractBaseUser) -> int:
    return RecoveryCode.objects.unused().filter(user_id=user.pk).count()


def has_imported_recovery_codes(user: AbstractBaseUser) -> bool:
    """Whether unused codes of another package remain: they are weaker and read verbatim."""
    unused = RecoveryCode.objects.unused().filter(user_id=user.pk)
    return unused.filter(scheme=RecoveryCodeScheme.VERBATIM).exists()


def verify_recovery_code(
    user: AbstractBaseUser, raw_code: str, *, request: HttpRequest | None = None
) -> Result:
    """Check a recovery code in place of a code from a device (R22).

    Throttled and capped like device codes, on a counter of its own, so a device locked by
    wrong codes can still be recovered; an accepted code unlocks the user's devices (R14). The
    code is marked used by one conditional ``UPDATE``, so concurrent use succeeds once.
    """
    with transaction.atomic():
        account = locked_account(user)
        device = first_device(user)
        if device is None:
            return Result(Outcome.NO_DEVICE)
        result = _check_recovery_code(account, device, raw_code)
    events.report_attempt(result, user, request, event="recovery")
    return result


def first_device(user: AbstractBaseUser) -> Device | None:
    """The device a session is recorded against when no one device verified it: the user's
    first app, else their first security key."""
    for kind in DeviceKind:
        device: Device | None = active_devices(kind).filter(user_id=user.pk).order_by("pk").first()
        if device is not None:
            return device
    return None


def _check_recovery_code(account: TOTPAccount, device: Device, raw_code: str) -> Result:
    now = timezone.now()
    if account.is_locked:
        return Result(Outcome.LOCKED, locked_out=True)
    wait = account.throttle_remaining(now)
    if wait:
        return Result(Outcome.THROTTLED, retry_after=wait)
    # One digest per key for each way the code may be read: still a single query (R36).
    digests = [d for reading in recovery.readings(raw_code) for d in crypto.digests(reading)]
    unused = RecoveryCode.objects.unused().filter(user_id=account.user_id)
    if digests and unused.filter(digest__in=digests).update(used_at=now):
        account.unlock()
        # Locked in id order first, as verify_code does: an UPDATE alone would lock them in
        # table order and could deadlock against it on PostgreSQL.
        devices = TOTPDevice.objects.filter(user_id=account.user_id)
        lock_rows(devices)
        devices.update(failure_count=0, last_failure_at=None)
        if conf.TOTP_REMEMBER_FORGET_ON_RECOVERY:
            account.forget_browsers()
        return Result(
            Outcome.ACCEPTED,
            device,
            recovery_codes_left=unused.count(),
            method=VerificationMethod.RECOVERY_CODE,
        )
    account.record_failure(now)
    locked = account.is_locked
    return Result(Outcome.INVALID, newly_locked=(account,) if locked else (), locked_out=locked)


def reset_user(
    user: AbstractBaseUser,
    *,
    actor: AbstractBaseUser | None = None,
    request: HttpRequest | None = None,
    event: str = "reset",
) -> int:
    """Remove all of ``user``'s devices (apps and security keys), recovery codes and
    remembered browsers.

    Their sessions are de-verified on the next request. Returns the number of devices removed,
    of both kinds.
    Raises ``PermissionDenied`` when ``policy.may_manage`` refuses ``actor`` (R32).
    """
    # SECURITY: only superusers act on superusers, whatever the caller checked (R32).
    if not may_manage(actor, user):
        raise PermissionDenied
    with transaction.atomic():
        lock_rows(TOTPAccount.objects.filter(user_id=user.pk))
        # SECURITY: locked first, so a verification recorded meanwhile is found and ended (R27).
        device_ids = [device.pk for device in lock_rows(TOTPDevice.objects.filter(user_id=user.pk))]
        credential_ids = [
            key.pk for key in lock_rows(WebAuthnCredential.objects.filter(user_id=user.pk))
        ]
        _spare_current_session(
            request,
            user,
            [(DeviceKind.TOTP, pk) for pk in device_ids]
            + [(DeviceKind.WEBAUTHN, pk) for pk in credential_ids],
        )
        TOTPDevice.objects.filter(pk__in=device_ids).delete()
        # SECURITY: through the ORM's delete, whose pre_delete ends the keys' sessions (W6).
        WebAuthnCredential.objects.filter(pk__in=credential_ids).delete()
        _delete_account_state(user)
        if getattr(actor, "pk", None) != user.pk:
            # Staff did it: the user, signed out on their next request, hears why at sign-in.
            TOTPAccount.objects.create(user_id=user.pk, reset_by_staff_at=timezone.now())
    signals.devices_reset.send(
        TOTPDevice,
        user=user,
        actor=actor,
        request=request,
        device_ids=device_ids,
        credential_ids=credential_ids,
    )
    events.log_event(
        event,
        user=user,
        request=request,
        actor_id=getattr(actor, "pk", None),
        device_ids=device_ids,
        credential_ids=credential_ids,
    )
    return len(device_ids) + len(credential_ids)


def tell_of_staff_reset(request: HttpRequest, user: AbstractBaseUser) -> bool:
    """At sign-in, tell ``user`` once that staff reset their 2FA (which signed them out).

    Called for every password login; True when there was a reset to tell of.
    """
    # One conditional UPDATE: two sign-ins at once tell it once.
    told = TOTPAccount.objects.filter(user_id=user.pk, reset_by_staff_at__isnull=False).update(
        reset_by_staff_at=None
    )
    if told:
        message = _(
            "The site's staff reset your two-factor authentication, so you were signed out "
            "everywhere. If you did not ask for this, tell them at once."
        )
        messages.warning(request, message, fail_silently=True)
    return bool(told)


def disable(request: HttpRequest) -> bool:
    """The user turns two-factor authentication off: all their devices are removed.

    Needs step-up (R5, R28); False, and nothing removed, where the policy requires 2FA (R25).
    """
    stepup.require(request)
    user = signed_in_user(request)
    if not may_be_left_without_a_device(user):
        return False
    reset_user(user, actor=user, request=request, event="disabled")
    return True


def may_be_left_without_a_device(user: AbstractBaseUser) -> bool:
    """The last-device rule (R25): a user the policy covers always keeps one device."""
    return not enrolment_required(user)


def unlock_device(
    device: TOTPDevice, *, actor: AbstractBaseUser | None = None, request: HttpRequest | None = None
) -> None:
    """Clear a device's failures, and the owner's recovery-code failures, so they can try again.

    Raises ``PermissionDenied`` when ``policy.may_manage`` refuses ``actor`` (R32).
    """
    # SECURITY: an unlock is another 20 guesses; only superusers give them on superusers (R32).
    if not may_manage(actor, device.user):
        raise PermissionDenied
    with transaction.atomic():
        lock_rows(TOTPAccount.objects.filter(user_id=device.user_id))
        TOTPAccount.objects.filter(user_id=device.user_id).update(
            failure_count=0, last_failure_at=None
        )
        device.unlock()
    signals.device_unlocked.send(
        TOTPDevice, user=device.user, device=device, actor=actor, request=request
    )
    actor_id = getattr(actor, "pk", None)
    events.log_event(
        "unlocked", user=device.user, device=device, request=request, actor_id=actor_id
    )


def remove_device(request: HttpRequest, device_id: int, *, kind: str = DeviceKind.TOTP) -> bool:
    """The user removes one of their devices (an app, or a key with ``kind`` ``"webauthn"``);
    False if the policy forbids it.

    Needs step-up (R5, R28). Under a policy that requires 2FA the last device of either kind
    stays (R25, W6). Removing the last device otherwise turns 2FA off, recovery codes and
    remembered browsers included. Raises ``TOTPDevice.DoesNotExist`` (or
    ``WebAuthnCredential.DoesNotExist``) for a device that is not the user's.
    """
    stepup.require(request)
    user = signed_in_user(request)
    with transaction.atomic():
        lock_rows(TOTPAccount.objects.filter(user_id=user.pk))
        # Locked in one order everywhere: the account, the apps, the keys.
        devices: dict[tuple[str, int], Device] = {}
        for each in DeviceKind:
            for found in lock_rows(active_devices(each).filter(user_id=user.pk)):
                devices[(each, found.pk)] = found
        target = devices.get((kind, device_id))
        if target is None:
            model = WebAuthnCredential if kind == DeviceKind.WEBAUTHN else TOTPDevice
            raise model.DoesNotExist(device_id)
        # SECURITY: the last device of either kind is the last device (R25, W6).
        is_last = len(devices) == 1
        if is_last and not may_be_left_without_a_device(user):
            return False
        _spare_current_session(request, user, [(kind, device_id)])
        target.delete()
        if is_last:
            _delete_account_state(user)
    events.report_removed(user, target, device_id, request, event="device_removed")
    return True


def withdraw_device(device: Device) -> None:
    """Remove an imported ``device`` whose row the source no longer has (``totp_import``).

    In the caller's transaction, which holds the account row locked. Deleting it ends the
    sessions it verified; with it the user's last device, 2FA is off, as when the user removes
    their last device. The caller reports it (``events.report_removed``) once committed.
    """
    user = device.user
    device.delete()
    if not has_devices(user):
        _delete_account_state(user)


def _delete_account_state(user: AbstractBaseUser) -> None:
    """2FA is off for ``user``: their recovery codes and account row go too.

    The account row holds the remember token and the recovery-code failures; a new one is made
    when needed.
    """
    RecoveryCode.objects.filter(user_id=user.pk).delete()
    TOTPAccount.objects.filter(user_id=user.pk).delete()


def _spare_current_session(
    request: HttpRequest | None, user: AbstractBaseUser, devices: Sequence[session.DeviceRef]
) -> None:
    """The user's own session survives the removal of their devices; every other one ends."""
    if request is not None and getattr(getattr(request, "user", None), "pk", None) == user.pk:
        session.rebind(request, user, set(devices))


def rename_device(
    request: HttpRequest, device_id: int, name: str, *, kind: str = DeviceKind.TOTP
) -> None:
    """Needs step-up; raises ``TOTPDevice.DoesNotExist`` (``WebAuthnCredential.DoesNotExist``
    for a key) for a device that is not the user's."""
    stepup.require(request)
    devices = active_devices(kind).filter(user_id=signed_in_user(request).pk, pk=device_id)
    if not devices.update(name=name):
        model = WebAuthnCredential if kind == DeviceKind.WEBAUTHN else TOTPDevice
        raise model.DoesNotExist(device_id)


def forget_browsers(request: HttpRequest) -> None:
    """Every "remember this browser" cookie of the user stops working (R23).

    Needs step-up. The sessions those browsers signed in end too, this one excepted.
    """
    stepup.require(request)
    user = signed_in_user(request)
    with transaction.atomic():
        locked_account(user).forget_browsers()
        for kind in DeviceKind:
            device_ids = active_devices(kind).filter(user_id=user.pk).values_list("pk", flat=True)
            revocation.end_sessions(
                list(device_ids),
                kind=kind,
                method=VerificationMethod.REMEMBERED_BROWSER,
                sparing=request.session.session_key,
            )
    events.log_event("browsers_forgotten", user=user, request=request)


def sign_in_remembered(
    request: HttpRequest, user: AbstractBaseUser, cookie_value: str | None
) -> Device | None:
    """At password login: a valid remember cookie verifies the session; the device it names.

    Reported as used only once the session is recorded against the token the cookie was
    checked against (``None`` if the user forgot browsers in between).
    """
    found = remember.check_cookie(user, cookie_value)
    if found is None:
        return None
    device, token = found
    if not session.mark_verified(
        request, device, VerificationMethod.REMEMBERED_BROWSER, remember_token=token
    ):
        return None
    signals.remembered_browser_used.send(TOTPDevice, user=user, request=request)
    events.log_event("remembered", user=user, device=device, request=request)
    return device
