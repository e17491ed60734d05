"""Server-side record of a session's second-factor state (R17, R18, R19).

The session holds which device verified it, for which user, under which session key, and when.
Nothing the client sends can claim "verified".

Revocation without a query per request: every verification is also recorded in
``VerifiedSession``, and removing a device first deletes the sessions it verified from the
session store (``end_sessions_verified_by``, run for every device deletion). So a verified
session that still exists is one whose device still exists, and the middleware can trust the
record (zero queries). The record names the session key it was made for; if the key changed
by other means (e.g. ``update_session_auth_hash``), the device table is consulted once and the
new key recorded. Signed-cookie sessions cannot be deleted on the server, so with them the
device table is consulted on every request instead.
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.middleware.csrf import rotate_token
from django.utils import timezone

from .conf import conf
from .models import TOTPDevice, VerifiedSession
from .policy import enrolment_required

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


def sessions_can_be_ended() -> bool:
    """Whether the session store can delete a session by key (not signed cookies)."""
    return settings.SESSION_ENGINE != "django.contrib.sessions.backends.signed_cookies"


def holds_trusted_record(request: HttpRequest) -> bool:
    """Whether the session's own record shows it verified, with no query needed to confirm."""
    record = request.session.get(VERIFIED_KEY) or {}
    # SECURITY: trusted without a query only because removing a device deletes the sessions
    # it verified first (R17); see the module docstring.
    return (
        record.get("user") == str(request.user.pk)
        and record.get("key") == request.session.session_key
        and sessions_can_be_ended()
    )


def load_state(request: HttpRequest) -> TOTPState:
    """The session's state: no query for anonymous users and for verified sessions."""
    user = request.user
    if not user.is_authenticated:
        return ANONYMOUS
    record = request.session.get(VERIFIED_KEY) or {}
    if holds_trusted_record(request):
        return TOTPState(is_verified=True, has_device=True, verified_at=record.get("at"))
    is_own = record.get("user") == str(user.pk)
    device_ids = set(
        TOTPDevice.objects.confirmed().filter(user_id=user.pk).values_list("pk", flat=True)
    )
    # SECURITY: verified only by a device that still exists, belongs to this user and is
    # confirmed; a reset or a different user on the same session fails this at once (R17).
    is_verified = is_own and record.get("device") in device_ids
    if is_verified:
        _record_key(request, record["device"])
    return TOTPState(
        is_verified=is_verified,
        has_device=bool(device_ids),
        must_enrol=not device_ids and enrolment_required(user),
        verified_at=record.get("at") if is_verified else None,
        revoked=bool(record) and not is_verified,
    )


def _record_key(request: HttpRequest, device_id: int) -> None:
    """Note the session's current key against ``device_id``, so removing it ends the session."""
    if not sessions_can_be_ended():
        return
    if request.session.session_key is None:
        request.session.save()
    key = request.session.session_key
    record = request.session.get(VERIFIED_KEY) or {}
    if record.get("key") == key and record.get("device") == device_id:
        return
    VerifiedSession.objects.create(device_id=device_id, session_key=key)
    request.session[VERIFIED_KEY] = {**record, "device": device_id, "key": key}
    # Rows of sessions that have expired anyway; keeps the table to live sessions.
    age = datetime.timedelta(seconds=settings.SESSION_COOKIE_AGE)
    VerifiedSession.objects.filter(
        device_id=device_id, created_at__lt=timezone.now() - age
    ).delete()


def mark_verified(request: HttpRequest, device: TOTPDevice) -> None:
    """Record that ``device`` verified this session, under a new session key and CSRF token."""
    # SECURITY: a new session key and CSRF token at the privilege change, as Django does at
    # password login, so a session id or token learned before verification is worthless (R18).
    old_key = request.session.session_key
    request.session.cycle_key()
    if old_key is not None:
        VerifiedSession.objects.filter(session_key=old_key).delete()
    rotate_token(request)
    request.session[VERIFIED_KEY] = {
        "device": device.pk,
        "user": str(device.user_id),
        "at": time.time(),
    }
    request.session.pop(PASSWORD_AT_KEY, None)
    _record_key(request, device.pk)


def rebind(request: HttpRequest, user: Any, removing: Iterable[int]) -> None:
    """Keep this session of ``user`` out of the removal of the devices ``removing``.

    A session verified by one of them is recorded against another of the user's devices,
    keeping the verification time so step-up still expires on schedule; with none left it is
    no longer verified, but stays signed in. Called before the devices are removed.
    """
    record = request.session.get(VERIFIED_KEY)
    removed = set(removing)
    if not record or record.get("user") != str(user.pk) or record.get("device") not in removed:
        return
    key = request.session.session_key
    VerifiedSession.objects.filter(session_key=key, device_id__in=removed).delete()
    remaining = (
        TOTPDevice.objects.confirmed().filter(user=user).exclude(pk__in=removed).order_by("pk")
    ).first()
    if remaining is None:
        forget_verification(request)
        return
    _record_key(request, remaining.pk)


def end_sessions_verified_by(device_ids: Iterable[int]) -> None:
    """Delete from the session store every session these devices verified (R17, R24)."""
    ids = list(device_ids)
    keys = set(
        VerifiedSession.objects.filter(device_id__in=ids).values_list("session_key", flat=True)
    )
    store = import_module(settings.SESSION_ENGINE).SessionStore
    for key in keys:
        store().delete(key)
    VerifiedSession.objects.filter(device_id__in=ids).delete()


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
