"""Passkey sign-in: one touch instead of a username, a password and a code (W8-W11).

The one home of the rule, beside ``ceremonies`` (whose judge of assertions it calls, so the
signature, clone and replay guards are the second factor's own). ``begin`` gives an anonymous
session the options for ``navigator.credentials.get()`` with no ``allowCredentials`` and user
verification required, and keeps the challenge under its own purpose; ``finish`` pops it (single
use, five minutes), finds the discoverable credential by its id, checks the response's user
handle against its owner's, verifies the assertion under the key's row lock, refuses users
who may not sign in, then signs the user in with Django's ``login()`` and records the session
as verified by that passkey (``session.mark_verified``): the middleware, revocation, step-up
and notices treat it as a session verified by a code.

Every refusal looks the same to the browser (no user enumeration: W10); the log and the
``user_login_failed`` signal say why. ``begin`` is rate limited per session and per client
address (W11).
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.auth import load_backend, login, logout
from django.contrib.auth.signals import user_login_failed
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction

from . import ceremonies, events, session, webauthn
from .ceremonies import Purpose
from .conf import conf
from .models import (
    TOTPAccount,
    VerificationMethod,
    WebAuthnCredential,
    credential_id_digest,
    lock_rows,
)
from .services import Outcome, Result

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

# Sign-in attempts a session, and a client address, may start in a window (W11). A login page
# starts one when it loads (for passkey autofill) and one per press of its button.
SESSION_LIMIT = 10
ADDRESS_LIMIT = 60
LIMIT_WINDOW_SECONDS = 60
CACHE_PREFIX = "django_totp.passkey"


class RateLimited(Exception):
    """Too many sign-ins started from this session or address; ``retry_after`` seconds."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


@dataclass(frozen=True)
class SignIn:
    """What a passkey sign-in came to: ``user`` signed in (``result`` accepted), or not."""

    result: Result
    user: AbstractBaseUser | None = None

    @property
    def accepted(self) -> bool:
        return self.result.accepted and self.user is not None


def enabled() -> bool:
    """Whether passkey sign-in is on: ``TOTP_PASSKEY_SIGN_IN`` and ``TOTP_WEBAUTHN``."""
    return conf.TOTP_PASSKEY_SIGN_IN and conf.TOTP_WEBAUTHN


def _relying_party() -> webauthn.RelyingParty:
    if not conf.TOTP_PASSKEY_SIGN_IN:
        raise ImproperlyConfigured("TOTP_PASSKEY_SIGN_IN is False: passkey sign-in is off.")
    # SECURITY: a passkey is both factors only with its PIN or biometrics: required here,
    # whatever TOTP_WEBAUTHN_USER_VERIFICATION asks of a second factor (W5).
    return dataclasses.replace(webauthn.relying_party(), user_verification="required")


def _count(key: str, now: float) -> tuple[int, int]:
    """Count one start in ``key``'s current window: the count, and the window's seconds left."""
    window = int(now // LIMIT_WINDOW_SECONDS)
    full_key = f"{CACHE_PREFIX}.{key}.{window}"
    cache.add(full_key, 0, timeout=LIMIT_WINDOW_SECONDS + 1)
    try:
        count = cache.incr(full_key)
    except ValueError:  # expired between add and incr
        cache.set(full_key, 1, timeout=LIMIT_WINDOW_SECONDS + 1)
        count = 1
    left = LIMIT_WINDOW_SECONDS - int(now % LIMIT_WINDOW_SECONDS)
    return count, left


def _check_rate(request: HttpRequest) -> None:
    """Raise ``RateLimited`` once this session or client address started too many sign-ins."""
    if request.session.session_key is None:
        request.session.save()
    now = time.time()
    # SECURITY: the address is REMOTE_ADDR only, never X-Forwarded-For, which the client
    # writes (as for the security log); a proxy in front sets REMOTE_ADDR itself (W11).
    address = events.client_ip(request) or "unknown"
    counts = [
        (_count(f"session.{request.session.session_key}", now), SESSION_LIMIT),
        (_count(f"ip.{address}", now), ADDRESS_LIMIT),
    ]
    for (count, left), limit in counts:
        if count > limit:
            raise RateLimited(left)


def begin(request: HttpRequest) -> str:
    """Options (JSON) for ``navigator.credentials.get()`` that any passkey of this site answers.

    No ``allowCredentials`` (the browser offers the user's discoverable credentials), user
    verification required; the challenge is kept in this session for ``finish``, replacing an
    earlier one (W1). Raises ``RateLimited`` past the limits (W11), and
    ``ImproperlyConfigured`` when WebAuthn is off or unconfigured.
    """
    rp = _relying_party()
    _check_rate(request)
    options = webauthn.authentication_options(rp, allow=[])
    session.store_challenge(request, Purpose.SIGN_IN, options.challenge)
    events.log_event("passkey_sign_in_started", user=None, request=request)
    return options.json


def finish(request: HttpRequest, response: Any) -> SignIn:
    """Sign in the owner of the passkey that answered this session's challenge.

    Accepted: ``login()`` ran (``user_logged_in`` sent) and the session, under a new key, is
    verified by the passkey. Otherwise nobody is signed in, ``user_login_failed`` is sent, and
    the result says why: ``EXPIRED`` without a usable challenge; ``INVALID`` for an unknown,
    removed or foreign credential, a user handle that is not its owner's, a response that does
    not verify, or a user who may not sign in; ``CLONED`` and ``REPLAYED`` as for a second
    factor (W3). The answer to show is the same for all of them (W10).
    """
    rp = _relying_party()
    # SECURITY: popped before anything else, so whatever happens next it is not used again (W1).
    challenge = session.pop_challenge(request, Purpose.SIGN_IN)
    if challenge is None:
        return _refused(request, Outcome.EXPIRED, "challenge")
    try:
        parsed = webauthn.parse(response, webauthn.ASSERTION_FIELDS)
    except webauthn.WebAuthnError as error:
        return _refused(request, Outcome.INVALID, error.reason)
    with transaction.atomic():
        found = lock_rows(
            WebAuthnCredential.objects.filter(
                credential_id_hash=credential_id_digest(parsed.credential_id)
            )
        )
        if not found:
            return _refused(request, Outcome.INVALID, "unknown_key")
        key = found[0]
        user = key.user
        if not _handle_matches(key, parsed):
            return _refused(request, Outcome.INVALID, "user_handle", user=user, key=key)
        result, reason, received = ceremonies.judge_assertion(rp, key, parsed, challenge)
    if result.outcome is Outcome.CLONED:
        ceremonies.report_clone(user, key, received, request)
    if not result.accepted:
        return _refused(request, result.outcome, reason or "", user=user, key=key)
    backend = _backend_for(user)
    if backend is None:
        return _refused(request, Outcome.INVALID, "user_refused", user=user, key=key)
    # The anonymous session's key changes here (login) and again as it is recorded verified.
    session.sign_in_with_both_factors(request)
    login(request, user, backend=backend)
    if not session.mark_verified(request, key, VerificationMethod.WEBAUTHN):
        # Removed by a reset between the check and now: that reset wins.
        logout(request)
        return _refused(request, Outcome.INVALID, "removed", user=user, key=key)
    events.report_attempt(result, user, request, event="verified")
    events.log_event("passkey_signed_in", user=user, device=key, request=request)
    return SignIn(result, user)


def _handle_matches(key: WebAuthnCredential, parsed: webauthn.Response) -> bool:
    """Whether the response's user handle is the one ``key`` was registered with (W9): its
    owner's WebAuthn user handle, or for a key imported from another package, that package's."""
    raw = parsed.data["response"].get("userHandle")
    if not isinstance(raw, str):
        return False  # a discoverable credential always returns its handle
    try:
        claimed = webauthn.b64url_decode(raw)
    except ValueError:
        return False
    handle = key.user_handle
    if handle is None:
        handle = (
            TOTPAccount.objects.filter(user_id=key.user_id)
            .values_list("webauthn_user_handle", flat=True)
            .first()
        )
    # SECURITY: the handle the authenticator stored with the credential must be the one its
    # owner was registered with, or the credential is not the owner's (W9).
    return handle is not None and hmac.compare_digest(bytes(handle), claimed)


def _backend_for(user: AbstractBaseUser) -> str | None:
    """The first of ``AUTHENTICATION_BACKENDS`` that lets ``user`` sign in, or ``None``.

    An inactive user never may. A backend with ``user_can_authenticate`` (Django's
    ``ModelBackend`` and its subclasses) must allow the user, and every backend must find the
    user again by id, as each later request of the session does (``auth.get_user``).
    """
    # SECURITY: a passkey proves who the user is, not that the site lets them in: inactive
    # users, and users the site's backends refuse, are refused as at password login (W8).
    if not getattr(user, "is_active", True):
        return None
    for path in settings.AUTHENTICATION_BACKENDS:
        backend = load_backend(path)
        can = getattr(backend, "user_can_authenticate", None)
        if can is not None and not can(user):
            continue
        if backend.get_user(user.pk) is None:
            continue
        return path
    return None


def _refused(
    request: HttpRequest,
    outcome: Outcome,
    reason: str,
    *,
    user: AbstractBaseUser | None = None,
    key: WebAuthnCredential | None = None,
) -> SignIn:
    """A refusal: logged with why, and ``user_login_failed`` sent as ``authenticate()`` does."""
    result = Result(outcome, key, method=VerificationMethod.WEBAUTHN)
    events.log_event(
        "passkey_sign_in_refused",
        user=user,
        device=key,
        request=request,
        level=logging.WARNING,
        reason=outcome.value,
        detail=reason,
    )
    credentials = {"username": user.get_username()} if user is not None else {}
    # For django-axes and the like: a failed sign-in of ``user`` when the key was known.
    user_login_failed.send(sender=__name__, credentials=credentials, request=request)
    return SignIn(result)
