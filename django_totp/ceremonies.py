"""The only code that registers security keys and checks their assertions (WebAuthn).

The service layer for the second kind of device, beside ``services`` for apps; the rules both
kinds share (the first device's recovery codes, the last-device rule, reset, step-up) stay in
``services`` and ``stepup`` and are called from here, not copied.

Every ceremony is two requests. ``begin_*`` stores a challenge in the session under its
purpose; ``finish_registration`` and ``verify_assertion`` pop it (single use, at most
``session.CHALLENGE_SECONDS`` old), check the browser's response with ``webauthn`` and record
the outcome in one transaction. Failures come back as a ``services.Result`` and a log line,
never as an exception (W7), and never touch a TOTP device's failure counter (W6). Like
``services.verify_code``, nothing here marks the session verified: callers pass an accepted
result to ``session.mark_verified``.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import logging
import secrets
from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import events, services, session, signals, stepup, webauthn
from .conf import conf
from .models import (
    TOTPDevice,
    VerificationMethod,
    WebAuthnCredential,
    credential_id_digest,
    lock_rows,
)
from .services import Outcome, Result
from .users import signed_in_user

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

USER_HANDLE_BYTES = 32


class Purpose(enum.StrEnum):
    """What a challenge may be used for: one never stands in for another (W1)."""

    REGISTER = "register"
    VERIFY = "verify"
    STEP_UP = "step-up"
    # Passkey sign-in (``passkeys``): the only purpose an anonymous session holds.
    SIGN_IN = "sign-in"


def _key_refs(user: AbstractBaseUser) -> list[webauthn.KeyRef]:
    return [
        webauthn.KeyRef(bytes(key.credential_id), key.transport_list)
        for key in WebAuthnCredential.objects.filter(user_id=user.pk).order_by("pk")
    ]


def _user_handle(user: AbstractBaseUser) -> bytes:
    """The user's WebAuthn user handle, made on first use: random, never their id (W4)."""
    with transaction.atomic():
        account = services.locked_account(user)
        if account.webauthn_user_handle is None:
            account.webauthn_user_handle = secrets.token_bytes(USER_HANDLE_BYTES)
            account.save(update_fields=["webauthn_user_handle"])
        return bytes(account.webauthn_user_handle)


def begin_registration(request: HttpRequest) -> str:
    """Options (JSON) for adding a security key; needs step-up like adding an app (R5, R28).

    The user's keys are excluded, so one authenticator is not registered twice (W4); with
    ``TOTP_PASSKEY_SIGN_IN`` on, the key is asked to be a passkey (``residentKey: "preferred"``).
    Raises ``ImproperlyConfigured`` when WebAuthn is off or unconfigured.
    """
    stepup.require(request)
    rp = webauthn.relying_party()
    user = signed_in_user(request)
    options = webauthn.registration_options(
        rp,
        user_handle=_user_handle(user),
        user_name=str(user.get_username()),
        display_name=str(user.get_username()),
        exclude=_key_refs(user),
        discoverable=conf.TOTP_PASSKEY_SIGN_IN,
    )
    session.store_challenge(request, Purpose.REGISTER, options.challenge)
    return options.json


def finish_registration(request: HttpRequest, response: Any, name: str) -> Result:
    """Add the key the browser created in answer to this session's registration challenge.

    ``ACCEPTED`` with the new credential as ``device`` (and, for the user's first device of
    any kind, new ``recovery_codes`` to show once); ``EXPIRED`` without a usable challenge;
    ``INVALID`` for a response that does not verify; ``DUPLICATE`` for a key registered
    already, to this user or another. Needs step-up (R5, R28).
    """
    stepup.require(request)
    rp = webauthn.relying_party()
    user = signed_in_user(request)
    # SECURITY: popped before anything else, so whatever happens next it is not used again (W1).
    challenge = session.pop_challenge(request, Purpose.REGISTER)
    if challenge is None:
        return _refused(user, request, "enrolled", Outcome.EXPIRED, "challenge")
    try:
        new = webauthn.verify_registration(
            rp, webauthn.parse(response, webauthn.REGISTRATION_FIELDS), challenge
        )
    except webauthn.WebAuthnError as error:
        return _refused(user, request, "enrolled", Outcome.INVALID, error.reason)
    credential = WebAuthnCredential(
        user_id=user.pk,
        name=name.strip()[:64] or "Security key",
        public_key=new.public_key,
        sign_count=new.sign_count,
        transports=" ".join(new.transports),
        aaguid=new.aaguid,
        backup_eligible=new.backup_eligible,
        backup_state=new.backup_state,
        discoverable=new.discoverable,
    )
    credential.set_credential_id(new.credential_id)
    try:
        with transaction.atomic():
            services.locked_account(user)
            is_first = not services.has_devices(user)
            # SECURITY: the unique index refuses a credential id seen before, whoever holds it
            # (W4); a race between two registrations of one key ends here too.
            credential.save()
            codes = services.first_device_added(user) if is_first else ()
    except IntegrityError:
        return _refused(user, request, "enrolled", Outcome.DUPLICATE, "duplicate")
    result = Result(
        Outcome.ACCEPTED, credential, recovery_codes=codes, method=VerificationMethod.WEBAUTHN
    )
    events.report_attempt(result, user, request, event="enrolled")
    return result


def begin_authentication(request: HttpRequest, purpose: Purpose = Purpose.VERIFY) -> str | None:
    """Options (JSON) for using one of the signed-in user's keys; ``None`` if they have none.

    ``purpose`` is ``VERIFY`` at sign-in or ``STEP_UP`` before changing 2FA.
    """
    rp = webauthn.relying_party()
    keys = _key_refs(signed_in_user(request))
    if not keys:
        return None
    options = webauthn.authentication_options(rp, allow=keys)
    session.store_challenge(request, purpose, options.challenge)
    return options.json


def verify_assertion(
    request: HttpRequest, response: Any, purpose: Purpose = Purpose.VERIFY
) -> Result:
    """Check an assertion from one of the signed-in user's keys against this session's
    challenge for ``purpose``.

    ``ACCEPTED`` with the key as ``device``; ``EXPIRED`` without a usable challenge;
    ``NO_DEVICE`` when the user has no key; ``INVALID`` for a response that does not verify or
    names no key of this user; ``CLONED`` for a counter that went backwards (the user is
    e-mailed); ``REPLAYED`` when a concurrent submission of the same assertion won.
    """
    rp = webauthn.relying_party()
    user = signed_in_user(request)
    challenge = session.pop_challenge(request, purpose)
    if challenge is None:
        return _refused(user, request, "verified", Outcome.EXPIRED, "challenge")
    try:
        parsed = webauthn.parse(response, webauthn.ASSERTION_FIELDS)
    except webauthn.WebAuthnError as error:
        return _refused(user, request, "verified", Outcome.INVALID, error.reason)
    with transaction.atomic():
        result, reason, received = _check_assertion(rp, user, parsed, challenge)
    events.report_attempt(result, user, request, event="verified", detail=reason)
    if result.outcome is Outcome.CLONED:
        assert isinstance(result.device, WebAuthnCredential)
        report_clone(user, result.device, received, request)
    return result


def _check_assertion(
    rp: webauthn.RelyingParty,
    user: AbstractBaseUser,
    parsed: webauthn.Response,
    challenge: bytes,
) -> tuple[Result, str | None, int]:
    """The result, the reason for a refusal, and the counter received; in a transaction."""
    digest = credential_id_digest(parsed.credential_id)
    # SECURITY: only this user's keys are looked at, so another user's credential is an
    # unknown one (W4); the row stays locked while the counter is judged and written (W3).
    found = lock_rows(WebAuthnCredential.objects.filter(user_id=user.pk, credential_id_hash=digest))
    if not found:
        if not WebAuthnCredential.objects.filter(user_id=user.pk).exists():
            return _failed(Outcome.NO_DEVICE), "no_key", 0
        foreign = WebAuthnCredential.objects.filter(credential_id_hash=digest).exists()
        return _failed(Outcome.INVALID), "foreign_key" if foreign else "unknown_key", 0
    return judge_assertion(rp, found[0], parsed, challenge)


def judge_assertion(
    rp: webauthn.RelyingParty,
    key: WebAuthnCredential,
    parsed: webauthn.Response,
    challenge: bytes,
) -> tuple[Result, str | None, int]:
    """Verify an assertion of ``key``, whose row the caller holds locked in its transaction,
    and record it once: the signature, the clone guard and the replay guard (W3).

    The one judge of every assertion, for a second factor and for passkey sign-in alike:
    the result, the reason for a refusal, and the counter received.
    """
    try:
        assertion = webauthn.verify_assertion(rp, parsed, challenge, bytes(key.public_key))
    except webauthn.WebAuthnError as error:
        return _failed(Outcome.INVALID, key), error.reason, 0
    if hmac.compare_digest(key.last_challenge, _challenge_digest(challenge)):
        # The very assertion accepted before (a concurrent submission of it): not a clone.
        return _failed(Outcome.REPLAYED, key), "replayed", assertion.sign_count
    # SECURITY: judged only after the signature proved the response came from the key, so a
    # forger cannot raise a clone alarm; the counter is not written (W3).
    if webauthn.counter_regressed(key.sign_count, assertion.sign_count):
        return _failed(Outcome.CLONED, key), "counter", assertion.sign_count
    result = _claim(key, assertion, challenge)
    return result, None if result.accepted else "replayed", assertion.sign_count


def _challenge_digest(challenge: bytes) -> str:
    return hashlib.sha256(challenge).hexdigest()


def _failed(outcome: Outcome, key: WebAuthnCredential | None = None) -> Result:
    return Result(outcome, key, method=VerificationMethod.WEBAUTHN)


def _claim(key: WebAuthnCredential, assertion: webauthn.Assertion, challenge: bytes) -> Result:
    """Record a verified assertion, once: the counter and the challenge change together."""
    used = _challenge_digest(challenge)
    # SECURITY: one conditional UPDATE: two submissions of one assertion cannot both pass, even
    # for keys that do not count (0 and 0), whose replay guard is the challenge (W3, R10).
    claimed = (
        WebAuthnCredential.objects.filter(pk=key.pk, sign_count=key.sign_count)
        .exclude(last_challenge=used)
        .update(
            sign_count=assertion.sign_count,
            last_challenge=used,
            last_used_at=timezone.now(),
            backup_state=assertion.backup_state,
        )
    )
    if not claimed:
        return Result(Outcome.REPLAYED, key)
    key.refresh_from_db()
    return Result(Outcome.ACCEPTED, key, method=VerificationMethod.WEBAUTHN)


def _refused(
    user: AbstractBaseUser,
    request: HttpRequest,
    event: str,
    outcome: Outcome,
    reason: str,
    key: WebAuthnCredential | None = None,
) -> Result:
    """A refusal: signalled and logged like a wrong code, with why (never the response)."""
    result = _failed(outcome, key)
    events.report_attempt(result, user, request, event=event, detail=reason)
    return result


def report_clone(
    user: AbstractBaseUser, key: WebAuthnCredential, received: int, request: HttpRequest
) -> None:
    """A correctly signed counter that did not rise: signalled (the user is e-mailed), logged."""
    signals.credential_cloned.send(
        TOTPDevice,
        user=user,
        device=key,
        request=request,
        sign_count=received,
        stored_sign_count=key.sign_count,
    )
    events.log_event(
        "webauthn_cloned",
        user=user,
        device=key,
        request=request,
        level=logging.WARNING,
        sign_count=received,
        stored_sign_count=key.sign_count,
    )
