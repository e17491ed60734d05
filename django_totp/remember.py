"""The "remember this browser" cookie (R23): its value, its check, and its place on a response.

A cookie stands in for the code at password login only, never for the password, and never for
step-up (R28). It is bound to the user, one device (an app or a security key), the user's
``TOTPAccount.remember_token`` and the password hash, so replacing the token ("forget all
browsers", a reset, re-enrolment) or changing the password makes every such cookie worthless at
once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core import signing
from django.http import HttpResponse
from django.utils.crypto import constant_time_compare, salted_hmac

from .conf import conf
from .models import Device, DeviceKind, TOTPAccount, active_devices, kind_of

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

COOKIE_SALT = "django_totp.remember"
SESSION_SALT = "django_totp.remember.session"


def _cookie_digest(user: AbstractBaseUser, kind: str, device_id: int, token: str) -> str:
    # SECURITY: the session auth hash changes with the password, so a password change ends
    # every remembered browser without a write here (R23). An app's id stands alone (as in
    # cookies from before security keys); a key's is marked, so the two kinds never collide.
    device = str(device_id) if kind == DeviceKind.TOTP else f"{kind}-{device_id}"
    value = f"{token}:{device}:{user.get_session_auth_hash()}"
    return salted_hmac(COOKIE_SALT, value, algorithm="sha256").hexdigest()


def token_digest(token: str) -> str:
    """What a session signed in by a remembered browser keeps of the remember token.

    The session record may live in a cookie, so it holds a keyed digest, never the token; the
    middleware's re-check compares it, so forgetting browsers ends those sessions too.
    """
    return salted_hmac(SESSION_SALT, token, algorithm="sha256").hexdigest()


def cookie_value(user: AbstractBaseUser, device: Device) -> str:
    """The signed value of a "remember this browser" cookie for ``user`` and ``device`` (an
    app or a security key)."""
    account, _ = TOTPAccount.objects.get_or_create(user_id=user.pk)
    kind = kind_of(device)
    digest = _cookie_digest(user, kind, device.pk, account.remember_token)
    payload = {"u": str(user.pk), "d": device.pk, "v": digest}
    if kind != DeviceKind.TOTP:
        payload["k"] = str(kind)
    return signing.dumps(payload, salt=COOKIE_SALT)


def remembered_device(user: AbstractBaseUser, value: str | None) -> Device | None:
    """The confirmed device a valid remember cookie vouches for, else ``None`` (R23).

    Tampered, expired, foreign and revoked cookies, and every cookie while
    ``TOTP_REMEMBER_DAYS`` is 0, are ignored.
    """
    found = check_cookie(user, value)
    return found[0] if found is not None else None


def check_cookie(user: AbstractBaseUser, value: str | None) -> tuple[Device, str] | None:
    """``remembered_device``, with the remember token the cookie was checked against.

    A sign-in records the session against that token (``session.mark_verified``), so
    forgetting browsers between the check and the recording cannot be missed (R23, R27).
    """
    days = conf.TOTP_REMEMBER_DAYS
    if not value or days <= 0:
        return None
    try:
        # SECURITY: the expiry is checked here from the signed timestamp, not left to the
        # browser's cookie expiry.
        payload = signing.loads(value, salt=COOKIE_SALT, max_age=days * 86400)
    except signing.BadSignature:
        return None
    if not isinstance(payload, dict) or payload.get("u") != str(user.pk):
        return None
    kind = payload.get("k", DeviceKind.TOTP)
    if not isinstance(payload.get("d"), int) or kind not in DeviceKind.values:
        return None
    device: Device | None = active_devices(kind).filter(user_id=user.pk, pk=payload["d"]).first()
    account = TOTPAccount.objects.filter(user_id=user.pk).first()
    if device is None or account is None:
        return None
    token = account.remember_token
    expected = _cookie_digest(user, kind, device.pk, token)
    return (device, token) if constant_time_compare(str(payload.get("v")), expected) else None


def set_cookie(response: HttpResponse, value: str) -> HttpResponse:
    # SECURITY: HttpOnly so scripts cannot read it, Lax so other sites cannot send it with a
    # POST, Secure whenever the session cookie is (R23).
    response.set_cookie(
        conf.TOTP_REMEMBER_COOKIE_NAME,
        value,
        max_age=conf.TOTP_REMEMBER_DAYS * 86400,
        path=settings.SESSION_COOKIE_PATH,
        domain=settings.SESSION_COOKIE_DOMAIN,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def delete_cookie(response: HttpResponse) -> HttpResponse:
    response.delete_cookie(
        conf.TOTP_REMEMBER_COOKIE_NAME,
        path=settings.SESSION_COOKIE_PATH,
        domain=settings.SESSION_COOKIE_DOMAIN,
        samesite="Lax",
    )
    return response
