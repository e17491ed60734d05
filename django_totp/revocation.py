"""Ending the sessions a device verified (R17, R24, R27): the one entry point for every removal.

Whatever removes a device (the services, the admin, a shell, a cascade from the user) sends
``pre_delete``, whose receiver calls ``end_sessions``. That locks the device rows, so a
verification being recorded either finished first (and its session is found here) or waits and
then finds the device gone (``session.mark_verified``). The sessions are deleted from the store
at once, and again after the transaction commits, because a cache in front of the database
(``cached_db``) can be refilled by a concurrent request until then. Whatever still slips through
(a cache-only engine resaving a session it had loaded) is caught by the middleware's re-check
within ``TOTP_RECHECK_SECONDS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from importlib import import_module

from django.conf import settings
from django.contrib.sessions.backends.base import SessionBase
from django.contrib.sessions.backends.signed_cookies import SessionStore as CookieStore
from django.db import transaction

from .models import TOTPDevice, VerifiedSession, lock_rows


def session_store() -> type[SessionBase]:
    store: type[SessionBase] = import_module(settings.SESSION_ENGINE).SessionStore
    return store


def sessions_can_be_ended() -> bool:
    """Whether the session store can delete a session by key.

    Not for signed cookies, or any engine built on them: recognised by class, not by name.
    """
    return not issubclass(session_store(), CookieStore)


def record(device_id: int, session_key: str, method: str, *, replacing: str | None) -> None:
    """Note that ``device_id`` verified the session ``session_key`` (the caller holds its lock).

    ``replacing`` is the key the session had before (its rows go), and rows of the user's
    sessions that no longer exist are removed: only then, never by age, since a session can be
    kept alive for longer than ``SESSION_COOKIE_AGE``.
    """
    forget_session(replacing)
    forget_session(session_key)
    VerifiedSession.objects.create(device_id=device_id, session_key=session_key, method=method)
    store = session_store()()
    owner = TOTPDevice.objects.filter(pk=device_id).values("user_id")
    stale = [
        row.pk
        for row in VerifiedSession.objects.filter(device__user_id__in=owner).exclude(
            session_key=session_key
        )
        if not store.exists(row.session_key)
    ]
    VerifiedSession.objects.filter(pk__in=stale).delete()


def forget_session(session_key: str | None) -> None:
    """No device's removal ends the session ``session_key`` any more (it goes on, or is gone)."""
    if session_key:
        VerifiedSession.objects.filter(session_key=session_key).delete()


def end_sessions(
    device_ids: Iterable[int], *, method: str | None = None, sparing: str | None = None
) -> None:
    """Delete every session these devices verified (R17, R27).

    ``method`` limits it to sessions verified that way; ``sparing`` is a session key to keep
    (the session asking). Runs inside the caller's transaction: the ``pre_delete`` of the
    devices, or a service.
    """
    ids = list(device_ids)
    # SECURITY: the device rows are locked before the sessions are collected, so a verification
    # committing meanwhile cannot add a session this misses (R27).
    lock_rows(TOTPDevice.objects.filter(pk__in=ids))
    rows = VerifiedSession.objects.filter(device_id__in=ids)
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
