"""Server-side record of a session's second-factor state (R17, R18, R19).

The session holds which device verified it, for which user, and when; the device table decides
whether that still counts, so deleting or resetting a device de-verifies on the next request.
Nothing the client sends can claim "verified".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.middleware.csrf import rotate_token

from .conf import conf
from .models import TOTPDevice
from .services import enrolment_required

if TYPE_CHECKING:
    from django.http import HttpRequest

VERIFIED_KEY = "_totp_verified"
PASSWORD_AT_KEY = "_totp_password_at"


@dataclass(frozen=True)
class TOTPState:
    """What the middleware and views need to know about the current session.

    ``is_verified``: a confirmed device of this user verified this session.
    ``has_device``: the user has at least one confirmed device, so must verify.
    ``must_enrol``: the policy requires a device and the user has none.
    ``verified_at``: Unix time of the last verification in this session.
    ``revoked``: the session was verified by a device that has since been removed (or for
    another user), so it is no longer trusted even where the policy asks for no device.
    """

    is_verified: bool = False
    has_device: bool = False
    must_enrol: bool = False
    verified_at: float | None = None
    revoked: bool = False

    def verified_within(self, seconds: int, now: float | None = None) -> bool:
        if not self.is_verified or self.verified_at is None:
            return False
        return (now if now is not None else time.time()) - self.verified_at <= seconds


ANONYMOUS = TOTPState()


def load_state(request: HttpRequest) -> TOTPState:
    """The session's state: no query for anonymous users, one for authenticated ones."""
    user = request.user
    if not user.is_authenticated:
        return ANONYMOUS
    device_ids = set(
        TOTPDevice.objects.confirmed().filter(user_id=user.pk).values_list("pk", flat=True)
    )
    record = request.session.get(VERIFIED_KEY) or {}
    # SECURITY: verified only by a device that still exists, belongs to this user and is
    # confirmed; a reset or a different user on the same session fails this at once (R17).
    is_verified = record.get("device") in device_ids and record.get("user") == str(user.pk)
    return TOTPState(
        is_verified=is_verified,
        has_device=bool(device_ids),
        must_enrol=not device_ids and enrolment_required(user),
        verified_at=record.get("at") if is_verified else None,
        revoked=bool(record) and not is_verified,
    )


def mark_verified(request: HttpRequest, device: TOTPDevice) -> None:
    """Record that ``device`` verified this session, under a new session key and CSRF token."""
    # SECURITY: a new session key and CSRF token at the privilege change, as Django does at
    # password login, so a session id or token learned before verification is worthless (R18).
    request.session.cycle_key()
    rotate_token(request)
    request.session[VERIFIED_KEY] = {
        "device": device.pk,
        "user": str(device.user_id),
        "at": time.time(),
    }
    request.session.pop(PASSWORD_AT_KEY, None)


def rebind(request: HttpRequest, removed_device_id: int, user: Any) -> bool:
    """Keep this session verified after its user removed a device; False if none is left.

    A session verified by the removed device is recorded against another of the user's devices,
    keeping the verification time so step-up still expires on schedule. Other sessions verified
    by the removed device are revoked as usual.
    """
    remaining = TOTPDevice.objects.confirmed().filter(user=user).order_by("pk").first()
    record = request.session.get(VERIFIED_KEY)
    if remaining is None:
        forget_verification(request)
        return False
    if record and record.get("device") == removed_device_id:
        request.session[VERIFIED_KEY] = {**record, "device": remaining.pk}
    return True


def forget_verification(request: HttpRequest) -> None:
    """This session's own devices were removed by its user: not verified, but not revoked."""
    request.session.pop(VERIFIED_KEY, None)


def start_pending(request: HttpRequest) -> None:
    """Start the password-only stage: any earlier verification no longer counts."""
    request.session.pop(VERIFIED_KEY, None)
    request.session[PASSWORD_AT_KEY] = time.time()


def pending_expired(request: HttpRequest, now: float | None = None) -> bool:
    """Whether the password step is older than ``TOTP_PENDING_TIMEOUT`` (R19).

    A session without the timestamp (logged in before django-totp was installed, or by code
    that bypassed ``login()``) counts as expired.
    """
    started = request.session.get(PASSWORD_AT_KEY)
    if started is None:
        return True
    return (now if now is not None else time.time()) - started > conf.TOTP_PENDING_TIMEOUT
