"""Server-side record of a session's second-factor state (R17, R18, R19, R27, R28).

The session holds which device (an app or a security key: its kind and id) verified it, for
which user, under which session key, how (a code, a recovery code, a security key, a remembered
browser), when, and when the device table last confirmed it. Nothing the client sends can claim
"verified". It also holds the session's WebAuthn challenges, one per purpose, until first use.

Bounded trust (R27): within ``TOTP_RECHECK_SECONDS`` of the last confirmation the middleware
trusts the record with no query; after that one indexed query confirms that the device still
exists, is confirmed and belongs to the user (and, for a remembered browser, that the user has
not forgotten browsers since), and the record notes the time. Removing a device also deletes
the sessions it verified (``revocation``), so revocation is usually immediate, and never takes
longer than the interval whatever the session engine. Sessions in signed cookies cannot be
deleted on the server, so they are confirmed on every request.
"""

from __future__ import annotations

import base64
import datetime
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypedDict

from django.db import transaction
from django.db.models import CharField, OuterRef, Subquery, Value
from django.middleware.csrf import rotate_token
from django.utils.crypto import constant_time_compare
from django.utils.functional import SimpleLazyObject

from . import remember, revocation
from .conf import conf
from .models import (
    Device,
    DeviceKind,
    TOTPAccount,
    VerificationMethod,
    active_devices,
    kind_of,
    lock_rows,
)
from .policy import enrolment_grace_ends, enrolment_required

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

VERIFIED_KEY = "_totp_verified"
PASSWORD_AT_KEY = "_totp_password_at"
SETUP_KEY = "_totp_setup"
REMINDED_KEY = "_totp_reminded"
CHALLENGE_KEY = "_totp_webauthn_challenge"
# A WebAuthn challenge is refused this long after it was issued (W1).
CHALLENGE_SECONDS = 300


class VerifiedRecord(TypedDict, total=False):
    """The session's ``VERIFIED_KEY`` entry, as ``mark_verified`` writes it.

    Read back from the session engine, so readers still check what they rely on (``.get``,
    ``isinstance``): a record written by an older version may lack keys.
    """

    device: int  # the id of the device that verified the session
    kind: str  # its DeviceKind (absent in records from before security keys: an app)
    user: str  # str(user.pk): a pk of any type survives JSON
    method: str  # a VerificationMethod value
    at: float  # Unix time of the verification
    checked: float  # Unix time the device table last confirmed the record (R27)
    key: str  # the session key it was recorded under (when sessions can be ended)
    remember: str  # remembered browser: digest of the token its cookie was checked with


# What a person typed or touched in this session; a remembered browser is not among them (R28).
TYPED_METHODS = frozenset(
    {VerificationMethod.CODE, VerificationMethod.RECOVERY_CODE, VerificationMethod.WEBAUTHN}
)
#: A device as the session record names it: ``(DeviceKind, id)``.
DeviceRef = tuple[str, int]


def ref_of(record: VerifiedRecord) -> DeviceRef | None:
    """The device a record names, or ``None`` for a record without one."""
    device = record.get("device")
    if not isinstance(device, int):
        return None
    return (record.get("kind") or DeviceKind.TOTP, device)


@dataclass(frozen=True)
class TOTPState:
    """What the middleware and views need to know about the current session.

    ``is_verified``: a confirmed device of this user verified this session.
    ``has_device``: the user has at least one confirmed device, so must verify.
    ``must_enrol``: the policy requires a device and the user has none.
    ``enrol_by``: the policy requires a device, the user has none, and may go on without one,
    reminded, until then (``TOTP_ENROLMENT_GRACE_DAYS``).
    ``verified_at``: Unix time of the last verification in this session.
    ``method``: how it was verified: ``"code"``, ``"recovery"``, ``"remembered"`` or
    ``"webauthn"``.
    ``revoked``: the session was verified by a device that has since been removed (or for
    another user), so it is no longer trusted even where the policy asks for no device.
    """

    is_verified: bool = False
    has_device: bool = False
    must_enrol: bool = False
    enrol_by: datetime.datetime | None = None
    verified_at: float | None = None
    method: str | None = None
    revoked: bool = False

    def stepped_up_within(self, seconds: float, now: float | None = None) -> bool:
        """Whether a code, recovery code or security key was used in this session in the last
        ``seconds``."""
        if not self.is_verified or self.verified_at is None or self.method not in TYPED_METHODS:
            return False
        age = (now if now is not None else time.time()) - self.verified_at
        # SECURITY: a time in the future (a server whose clock ran ahead) does not stretch
        # the window; a few seconds between servers' clocks are allowed.
        return -CLOCK_SKEW_SECONDS <= age <= seconds


ANONYMOUS = TOTPState()
# How far apart the app servers' clocks may be (NTP keeps them well within this).
CLOCK_SKEW_SECONDS = 5


def set_state(request: HttpRequest, state: TOTPState | SimpleLazyObject[TOTPState]) -> None:
    """Make ``state`` (or a lazy object loading it) ``request.totp`` for the rest of the request."""
    # ``totp`` is django_totp's own attribute: HttpRequest does not declare it.
    request.totp = state  # type: ignore[attr-defined]


def state_of(request: HttpRequest) -> TOTPState:
    """The state the middleware loaded for this request, or loaded now."""
    state = getattr(request, "totp", None)
    return state if state is not None else load_state(request)


def holds_trusted_record(request: HttpRequest, now: float | None = None) -> bool:
    """Whether the session's own record shows it verified, with no query needed to confirm."""
    record: VerifiedRecord = request.session.get(VERIFIED_KEY) or VerifiedRecord()
    checked = record.get("checked")
    if not isinstance(checked, (int, float)):
        return False
    age = (now if now is not None else time.time()) - checked
    # SECURITY: trusted without a query only for a bounded interval after the device table
    # last confirmed it, and only under the key it was confirmed for (R27).
    return (
        record.get("user") == str(request.user.pk)
        and record.get("key") == request.session.session_key
        and 0 <= age < conf.TOTP_RECHECK_SECONDS
        and revocation.sessions_can_be_ended()
    )


def load_state(request: HttpRequest) -> TOTPState:
    """The session's state: no query for anonymous users and freshly confirmed sessions."""
    if request.user.is_authenticated and holds_trusted_record(request):
        return _verified_state(request.session[VERIFIED_KEY])
    return _checked_state(request)


def confirmed_state(request: HttpRequest) -> TOTPState:
    """The session's state as the device table has it now, whatever the record says.

    For decisions that outlast the request (step-up: a new device, new recovery codes), which
    must not rest on a record that a reset is about to end (R27, R28). The rest of the request
    sees this state too.
    """
    state = _checked_state(request)
    set_state(request, state)
    return state


def _checked_state(request: HttpRequest) -> TOTPState:
    user = request.user
    if not user.is_authenticated:
        return ANONYMOUS
    record: VerifiedRecord = request.session.get(VERIFIED_KEY) or VerifiedRecord()
    devices = user_devices(user)
    ref = ref_of(record)
    # SECURITY: verified only by a device of the kind recorded that still exists, belongs to
    # this user and is active; a reset or a different user on the same session fails this at
    # once (R17, W6).
    is_verified = record.get("user") == str(user.pk) and ref in devices
    if (
        is_verified
        and ref is not None
        and record.get("method") == (VerificationMethod.REMEMBERED_BROWSER)
    ):
        # SECURITY: "forget all browsers" replaced the token: this sign-in is over (R23).
        remember_token = devices[ref] or ""
        is_verified = constant_time_compare(
            str(record.get("remember")), remember.token_digest(remember_token)
        )
    if is_verified:
        _confirmed(request, record)
        return _verified_state(record)
    if "checked" in record:
        # Trusted no more: the middleware signs this session out on its next request.
        request.session[VERIFIED_KEY] = {k: v for k, v in record.items() if k != "checked"}
    covered = not devices and enrolment_required(user)
    grace_ends = enrolment_grace_ends(user) if covered else None
    return TOTPState(
        has_device=bool(devices),
        must_enrol=covered and grace_ends is None,
        enrol_by=grace_ends,
        revoked=bool(record),
    )


def user_devices(user: AbstractBaseUser) -> dict[DeviceRef, str | None]:
    """The user's active devices of every kind, each with the user's remember token.

    One query (a UNION), so the middleware's re-check stays one query (R27).
    """
    token = Subquery(
        TOTPAccount.objects.filter(user_id=OuterRef("user_id")).values("remember_token")[:1]
    )
    columns = []
    for kind in DeviceKind:
        rows = (
            active_devices(kind)
            .filter(user_id=user.pk)
            .annotate(kind=Value(str(kind), output_field=CharField()), token=token)
            .values_list("kind", "pk", "token")
        )
        columns.append(rows)
    found = columns[0].union(*columns[1:], all=True)
    return {(kind, pk): remember_token for kind, pk, remember_token in found}


def _verified_state(record: VerifiedRecord) -> TOTPState:
    return TOTPState(
        is_verified=True, has_device=True, verified_at=record.get("at"), method=record.get("method")
    )


def _confirmed(request: HttpRequest, record: VerifiedRecord) -> None:
    """The device table just confirmed the record: trust it again for the interval."""
    if not revocation.sessions_can_be_ended():
        return  # checked on every request; writing would only make the cookie change
    key = request.session.session_key
    ref = ref_of(record)
    if key is not None and ref is not None and record.get("key") != key:
        # The key changed by other means (e.g. ``update_session_auth_hash``): note the new one,
        # so removing the device still finds this session.
        kind, device_id = ref
        with transaction.atomic():
            if not lock_rows(active_devices(kind).filter(pk=device_id)):
                return
            method = record.get("method") or VerificationMethod.CODE
            revocation.record(device_id, key, method, replacing=record.get("key"), kind=kind)
    if conf.TOTP_RECHECK_SECONDS > 0:
        request.session[VERIFIED_KEY] = {**record, "key": key, "checked": time.time()}


def mark_verified(
    request: HttpRequest,
    device: Device,
    method: str = VerificationMethod.CODE,
    *,
    remember_token: str | None = None,
) -> bool:
    """Record that ``device`` (an app or a security key) verified this session, under a new
    session key and CSRF token.

    For a remembered browser, ``remember_token`` is the token its cookie was checked against.
    False, and nothing recorded, when the device was removed or unconfirmed meanwhile, or the
    user forgot their browsers since the cookie was checked.
    """
    remembered = method == VerificationMethod.REMEMBERED_BROWSER
    with transaction.atomic():
        if remembered:
            # SECURITY: the account row (locked first, as everywhere) holds the token that
            # "forget all browsers" replaces: it committed before this, and the cookie no
            # longer counts, or it waits and then ends this session (R23).
            accounts = lock_rows(TOTPAccount.objects.filter(user_id=device.user_id))
            if not accounts or not constant_time_compare(
                accounts[0].remember_token, remember_token or ""
            ):
                return False
        # SECURITY: the device row is locked while the session is recorded, so a reset removing
        # the device either finds this session or makes this call fail (R27).
        kind = kind_of(device)
        locked = lock_rows(active_devices(kind).filter(pk=device.pk, user_id=device.user_id))
        if not locked:
            return False
        # SECURITY: a new session key and CSRF token at the privilege change, as Django does at
        # password login, so a session id or token learned before verification is worthless
        # (R18).
        old_key = request.session.session_key
        request.session.cycle_key()
        rotate_token(request)
        now = time.time()
        record: VerifiedRecord = {
            "device": device.pk,
            "kind": str(kind),
            "user": str(device.user_id),
            "method": str(method),
            "at": now,
            "checked": now,
        }
        if remembered:
            record["remember"] = remember.token_digest(remember_token or "")
        if revocation.sessions_can_be_ended():
            if request.session.session_key is None:
                request.session.save()
            key = request.session.session_key
            assert key is not None
            record["key"] = key
            revocation.record(device.pk, key, str(method), replacing=old_key, kind=kind)
        request.session[VERIFIED_KEY] = record
        request.session.pop(PASSWORD_AT_KEY, None)
    revocation.prune(device.user_id, sparing=record.get("key"))
    # What the rest of this request asks (step-up right after a fresh code) sees the new state.
    set_state(request, _verified_state(record))
    return True


def rebind(request: HttpRequest, user: AbstractBaseUser, removing: set[DeviceRef]) -> None:
    """Keep this session of ``user`` out of the removal of the devices ``removing``.

    A session verified by one of them is recorded against another of the user's devices,
    keeping how and when it was verified, so step-up still expires on schedule; with none left
    it is no longer verified, but stays signed in. Called, under the caller's lock on the
    user's devices, before they are removed.
    """
    record: VerifiedRecord | None = request.session.get(VERIFIED_KEY)
    if not record or record.get("user") != str(user.pk) or ref_of(record) not in removing:
        return
    key = request.session.session_key
    revocation.forget_session(key)
    # Apps first, in id order, then keys: the device that stays in charge of this session.
    remaining = sorted(
        (ref for ref in user_devices(user) if ref not in removing),
        key=lambda ref: (ref[0] != DeviceKind.TOTP, ref[1]),
    )
    # What the rest of this request asks is answered after the removal, from the table.
    set_state(request, SimpleLazyObject(lambda: load_state(request)))
    if not remaining:
        request.session.pop(VERIFIED_KEY, None)
        return
    kind, device_id = remaining[0]
    if revocation.sessions_can_be_ended() and key is not None:
        method = record.get("method") or VerificationMethod.CODE
        revocation.record(device_id, key, method, replacing=None, kind=kind)
    request.session[VERIFIED_KEY] = {**record, "device": device_id, "kind": kind}


def start_pending(request: HttpRequest) -> None:
    """Start the password-only stage: any earlier verification no longer counts."""
    request.session.pop(VERIFIED_KEY, None)
    request.session[PASSWORD_AT_KEY] = time.time()


def pending_expired(request: HttpRequest, now: float | None = None) -> bool:
    """Whether the password step is older than ``TOTP_PENDING_TIMEOUT`` (R19).

    A session without the timestamp (logged in before django-totp was installed, or by code
    that bypassed ``login()``) counts as expired.
    """
    started: float | None = request.session.get(PASSWORD_AT_KEY)
    if started is None:
        return True
    return (now if now is not None else time.time()) - started > conf.TOTP_PENDING_TIMEOUT


def start_setup(request: HttpRequest, device_id: int) -> None:
    """This session, and no other, may see and confirm the unconfirmed device (R31)."""
    request.session[SETUP_KEY] = device_id


def pending_setup_id(request: HttpRequest) -> int | None:
    """The unconfirmed device this session started, if any (``services.pending_device``)."""
    device_id = request.session.get(SETUP_KEY)
    return device_id if isinstance(device_id, int) else None


def store_challenge(request: HttpRequest, purpose: str, challenge: bytes) -> None:
    """Keep a WebAuthn challenge for ``purpose`` (register, verify, step-up) in this session.

    A new one replaces this session's earlier one of the same purpose (W1).
    """
    challenges = dict(request.session.get(CHALLENGE_KEY) or {})
    challenges[purpose] = {
        "value": base64.urlsafe_b64encode(challenge).decode("ascii"),
        "at": time.time(),
    }
    request.session[CHALLENGE_KEY] = challenges


def pop_challenge(request: HttpRequest, purpose: str, now: float | None = None) -> bytes | None:
    """This session's challenge for ``purpose``, removed: each is used once (W1).

    ``None`` when there is none, or it is older than ``CHALLENGE_SECONDS``.
    """
    challenges = dict(request.session.get(CHALLENGE_KEY) or {})
    # SECURITY: popped before it is checked, so a failed attempt cannot try again with it
    # (django-mfa2's CVE-2022-42731 was a reusable registration challenge) (W1).
    entry = challenges.pop(purpose, None)
    request.session[CHALLENGE_KEY] = challenges
    if not isinstance(entry, dict):
        return None
    value, issued = entry.get("value"), entry.get("at")
    if not isinstance(value, str) or not isinstance(issued, (int, float)):
        return None
    age = (now if now is not None else time.time()) - issued
    if not -CLOCK_SKEW_SECONDS <= age <= CHALLENGE_SECONDS:
        return None
    try:
        return base64.urlsafe_b64decode(value)
    except ValueError:  # binascii.Error: not what store_challenge wrote
        return None


# Set on the request by a sign-in that is both factors at once (a passkey), for the password-
# login receiver: no remembered browser stands in for a second factor there.
_BOTH_FACTORS = "_totp_both_factors"


def sign_in_with_both_factors(request: HttpRequest) -> None:
    setattr(request, _BOTH_FACTORS, True)


def signing_in_with_both_factors(request: HttpRequest) -> bool:
    return bool(getattr(request, _BOTH_FACTORS, False))
