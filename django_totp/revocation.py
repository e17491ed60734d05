"""Ending the sessions a device verified (R17, R24, R27): the one entry point for every removal.

A device is an authenticator app (``TOTPDevice``) or a security key (``WebAuthnCredential``);
each function takes its ``kind`` (W6). Whatever removes a device (the services, the admin, a
shell, a cascade from the user) sends ``pre_delete``, whose receiver calls ``end_sessions``.
That locks the device rows, so a verification being recorded either finished first (and its
session is found here) or waits and then finds the device gone (``session.mark_verified``). The
sessions are deleted from the store at once, and again after the transaction commits, because a
cache in front of the database (``cached_db``) can be refilled by a concurrent request until
then. Whatever still slips through (a cache-only engine resaving a session it had loaded) is
caught by the middleware's re-check within ``TOTP_RECHECK_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from importlib import import_module
from typing import Any

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.db import SessionStore as DatabaseStore
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieStore
from django.db import transaction
from django.db.models import Q

from .models import DeviceKind, VerifiedSession, device_model, lock_rows

# Rows checked per verification: the cost stays bounded however many sessions a user has.
PRUNE_BATCH = 20


def session_store() -> type[SessionBase]:
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def sessions_can_be_ended() -> bool:
    """Whether the session store can delete a session by key.

    Not for signed cookies, or any engine built on them: recognised by class, not by name.
    """
    return not issubclass(session_store(), CookieStore)


def record(
    device_id: int,
    session_key: str,
    method: str,
    *,
    replacing: str | None,
    kind: str = DeviceKind.TOTP,
) -> None:
    """Note that the device ``device_id`` of ``kind`` verified the session ``session_key`` (the
    caller holds the device's lock).

    ``replacing`` is the key the session had before; its rows go.
    """
    forget_session(replacing)
    forget_session(session_key)
    VerifiedSession.objects.create(
        **{f"{VerifiedSession.field_of(kind)}_id": device_id},
        session_key=session_key,
        method=method,
    )


def prune(user_id: Any, *, sparing: str | None) -> None:
    """Remove the rows of ``user_id``'s sessions that no longer exist, at most a batch a call.

    Only then, never by age: a session can be kept alive for longer than
    ``SESSION_COOKIE_AGE`` (R27). Called after a verification, outside its locks.
    """
    of_user = Q(device__user_id=user_id) | Q(credential__user_id=user_id)
    rows = VerifiedSession.objects.filter(of_user).exclude(session_key=sparing)
    batch = dict(rows.order_by("created_at").values_list("session_key", "pk")[:PRUNE_BATCH])
    store = session_store()
    if issubclass(store, DatabaseStore):
        # One query for the batch: the database is where these engines keep every session.
        alive = set(
            store.get_model_class()
            .objects.filter(session_key__in=list(batch))
            .values_list("session_key", flat=True)
        )
    else:
        alive = {key for key in batch if store().exists(key)}
    VerifiedSession.objects.filter(
        pk__in=[pk for key, pk in batch.items() if key not in alive]
    ).delete()


def forget_session(session_key: str | None) -> None:
    """No device's removal ends the session ``session_key`` any more (it goes on, or is gone)."""
    if session_key:
        VerifiedSession.objects.filter(session_key=session_key).delete()


def end_sessions(
    device_ids: Iterable[int],
    *,
    kind: str = DeviceKind.TOTP,
    method: str | None = None,
    sparing: str | None = None,
) -> None:
    """Delete every session these devices of ``kind`` verified (R17, R27, W6).

    ``method`` limits it to sessions verified that way; ``sparing`` is a session key to keep
    (the session asking). Runs inside the caller's transaction: the ``pre_delete`` of the
    devices, or a service.
    """
    ids = list(device_ids)
    # SECURITY: the device rows are locked before the sessions are collected, so a verification
    # committing meanwhile cannot add a session this misses (R27).
    lock_rows(device_model(kind).objects.filter(pk__in=ids))
    rows = VerifiedSession.objects.filter(**{f"{VerifiedSession.field_of(kind)}_id__in": ids})
    if method is not None:
        rows = rows.filter(method=method)
    if sparing:
        rows = rows.exclude(session_key=sparing)
    keys = set(rows.values_list("session_key", flat=True))
    if not keys:
        return
    _delete_sessions(keys)
    # SECURITY: until this transaction commits, a concurrent request can still read the
    # session from the database and write it back into a cache (cached_db): delete it again.
    transaction.on_commit(partial(_delete_sessions, keys))
    rows.delete()


def _delete_sessions(keys: Iterable[str]) -> None:
    store = session_store()
    for key in keys:
        store().delete(key)
