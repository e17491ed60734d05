"""E-mail notices to users when their two-factor authentication changes.

``connect()`` (called from ``AppConfig.ready``) ties these receivers to the signals in
``signals``. Each notice is rendered from two overridable templates,
``django_totp/email/<notice>_subject.txt`` and ``<notice>_message.txt``, and sent with
``send_mail`` through the site's e-mail backend:

==============================  ==================================================================
notice                          sent when
==============================  ==================================================================
``reset``                       staff (or ``manage.py totp_reset``) removed all the user's devices
``disabled``                    the user turned two-factor authentication off themselves
``device_added``                a new device was confirmed
``device_removed``              the user removed one device
``repeated_failures``           ``TOTP_NOTIFY_FAILURES_AFTER`` wrong codes in a row for a device
``locked``                      a device locked after ``TOTP_MAX_FAILURES`` failed codes
``unlocked``                    staff (or ``manage.py totp_unlock``) cleared a device's failures
``recovery_code_used``          a recovery code verified a session
``recovery_codes_regenerated``  the user made a new set of recovery codes
``webauthn_cloned``             a security key's signature counter went backwards (a cloned key)
==============================  ==================================================================

Templates get ``user``, ``site_name`` (``conf.site_name()``, never the request's host),
``when``, ``ip`` (``None`` when unknown), and ``device_name``, ``kind`` (``"totp"`` or
``"webauthn"``), ``remaining``, ``failures`` and ``max_failures`` where they apply. They
must never receive a secret or a code.

Notices go out only once the change is committed (``transaction.on_commit``), are skipped for
users without an e-mail address or when ``TOTP_NOTIFY_BY_EMAIL`` is False, and a failure to
send is logged to the ``django_totp`` logger, never raised into the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from django.core.mail import send_mail
from django.db import transaction
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.utils import timezone

from . import signals
from .conf import conf, site_name
from .events import client_ip
from .models import Device, kind_of

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.http import HttpRequest

logger = logging.getLogger("django_totp")

NOTICES = (
    "reset",
    "disabled",
    "device_added",
    "device_removed",
    "repeated_failures",
    "locked",
    "recovery_code_used",
    "recovery_codes_regenerated",
    "unlocked",
    "webauthn_cloned",
)


def email_address(user: AbstractBaseUser) -> str:
    """The user's address, by the user model's ``get_email_field_name()``; "" when none."""
    get_name = getattr(user, "get_email_field_name", None)
    field = get_name() if get_name is not None else "email"
    return getattr(user, field, "") or ""


def notify(
    user: AbstractBaseUser, notice: str, *, request: HttpRequest | None = None, **context: Any
) -> None:
    """Send ``notice`` to ``user`` once the current transaction commits.

    Nothing is sent if ``TOTP_NOTIFY_BY_EMAIL`` is False, the user has no address, or the
    transaction rolls back.
    """
    if not conf.TOTP_NOTIFY_BY_EMAIL:
        return
    address = email_address(user)
    if not address:
        return
    context = {
        "user": user,
        "site_name": site_name(),
        "when": timezone.now(),
        "ip": client_ip(request),
        **context,
    }
    transaction.on_commit(partial(_send, user, address, notice, context))


def _send(user: AbstractBaseUser, address: str, notice: str, context: dict[str, Any]) -> None:
    # SECURITY: the change is already committed; a broken mail server or template must not
    # turn it into an error page. Any failure is logged (without the message) and dropped.
    try:
        subject = render_to_string(f"django_totp/email/{notice}_subject.txt", context)
        message = render_to_string(f"django_totp/email/{notice}_message.txt", context)
        # A header cannot hold a line break; template whitespace must not make it one.
        send_mail(" ".join(subject.split()), message, None, [address])
    except Exception:  # an SMTPException/OSError, or whatever the site's backend raises
        record = {
            "event": "notice_failed",
            "user_id": user.pk,
            "device_id": None,
            "ip": context["ip"],
            "time": timezone.now().isoformat(),
            "notice": notice,
        }
        logger.exception(
            "totp notice %s to user=%s not sent", notice, user.pk, extra={"totp": record}
        )


def on_devices_reset(
    sender: Any,
    user: AbstractBaseUser,
    actor: AbstractBaseUser | None,
    device_ids: list[int],
    request: HttpRequest | None = None,
    credential_ids: list[int] | None = None,
    **kw: Any,
) -> None:
    # A user with security keys only is told too (W6).
    if not device_ids and not credential_ids:
        return
    by_owner = actor is not None and actor.pk == user.pk
    notify(user, "disabled" if by_owner else "reset", request=request)


def on_device_confirmed(
    sender: Any,
    user: AbstractBaseUser,
    device: Device,
    request: HttpRequest | None = None,
    **kw: Any,
) -> None:
    notify(user, "device_added", request=request, device_name=device.name, kind=kind_of(device))


def on_device_removed(
    sender: Any,
    user: AbstractBaseUser,
    device: Device,
    request: HttpRequest | None = None,
    **kw: Any,
) -> None:
    notify(user, "device_removed", request=request, device_name=device.name, kind=kind_of(device))


def on_repeated_failures(
    sender: Any,
    user: AbstractBaseUser,
    device: Device,
    failures: int,
    request: HttpRequest | None = None,
    **kw: Any,
) -> None:
    # SECURITY: the user hears of a password holder guessing codes while the back-off is still
    # short, not only at the lock (R35).
    notify(
        user,
        "repeated_failures",
        request=request,
        device_name=device.name,
        failures=failures,
        max_failures=conf.TOTP_MAX_FAILURES,
    )


def on_device_locked(
    sender: Any,
    user: AbstractBaseUser,
    device: Device,
    request: HttpRequest | None = None,
    **kw: Any,
) -> None:
    notify(user, "locked", request=request, device_name=device.name)


def on_recovery_code_used(
    sender: Any,
    user: AbstractBaseUser,
    remaining: int,
    request: HttpRequest | None = None,
    **kw: Any,
) -> None:
    notify(user, "recovery_code_used", request=request, remaining=remaining)


def on_recovery_codes_regenerated(
    sender: Any, user: AbstractBaseUser, request: HttpRequest | None = None, **kw: Any
) -> None:
    # SECURITY: new codes void the user's own; a session thief making them must not go
    # unnoticed (R35).
    notify(user, "recovery_codes_regenerated", request=request)


def on_device_unlocked(
    sender: Any,
    user: AbstractBaseUser,
    device: Device,
    request: HttpRequest | None = None,
    **kw: Any,
) -> None:
    # SECURITY: an unlock gives whoever has the password another TOTP_MAX_FAILURES guesses;
    # the user must hear of it (R32, R35).
    notify(user, "unlocked", request=request, device_name=device.name)


def on_credential_cloned(
    sender: Any,
    user: AbstractBaseUser,
    device: Device,
    request: HttpRequest | None = None,
    **kw: Any,
) -> None:
    # SECURITY: a second copy of the user's key exists somewhere; the user must hear of it (W3).
    notify(user, "webauthn_cloned", request=request, device_name=device.name)


RECEIVERS: list[tuple[Signal, Callable[..., None]]] = [
    (signals.devices_reset, on_devices_reset),
    (signals.device_confirmed, on_device_confirmed),
    (signals.device_removed, on_device_removed),
    (signals.repeated_failures, on_repeated_failures),
    (signals.device_locked, on_device_locked),
    (signals.recovery_code_used, on_recovery_code_used),
    (signals.recovery_codes_regenerated, on_recovery_codes_regenerated),
    (signals.device_unlocked, on_device_unlocked),
    (signals.credential_cloned, on_credential_cloned),
]


def connect() -> None:
    """Connect the notice receivers (idempotent)."""
    for signal, receiver in RECEIVERS:
        signal.connect(receiver, dispatch_uid=f"django_totp.notifications.{receiver.__name__}")
