"""django-otp's tables, which django-two-factor-auth uses too (R36).

Checked against django-otp 1.7.5 and django-two-factor-auth 1.18.1: ``TOTPDevice.key`` is hex,
``last_t`` the step of the code accepted last (drift included), ``t0`` the epoch, and a
``StaticToken`` row is an unused backup code (django-otp deletes it when it is used).

Security keys, checked against django-otp-webauthn 0.10.3 and django-two-factor-auth's webauthn
plugin (1.18.1). django-otp-webauthn keeps the credential id and COSE key as bytes, the
registration's attestation object (with the RP ID hash) beside them, and a random user handle
per user. The plugin keeps both as base64url text and no attestation, so its RP ID is its
``TWO_FACTOR_WEBAUTHN_RP_ID``, or ``--rp-id`` when that was unset (it then took the host name
each request came to); its user handle is the SHA-1 of the user's id, in hex.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections import defaultdict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model

from .. import webauthn
from . import (
    CodeRow,
    Decision,
    KeyRow,
    Kind,
    Reason,
    TOTPRow,
    UserRows,
    attested_key,
    sql,
    stored_key,
)

TOTP_TABLE = "otp_totp_totpdevice"
STATIC_DEVICE_TABLE = "otp_static_staticdevice"
STATIC_TOKEN_TABLE = "otp_static_statictoken"
# Devices that hold no key we could check codes with: counted, never imported.
OTHER_DEVICE_TABLES = (
    (Kind.HOTP, "otp_hotp_hotpdevice"),
    (Kind.EMAIL, "otp_email_emaildevice"),
    (Kind.YUBIKEY, "otp_yubikey_yubikeydevice"),
    (Kind.YUBIKEY, "otp_yubikey_remoteyubikeydevice"),
)
TWO_FACTOR_TABLES = ((Kind.PHONE, "two_factor_phonedevice"),)
OTP_WEBAUTHN_TABLE = "django_otp_webauthn_webauthncredential"
OTP_WEBAUTHN_ATTESTATION_TABLE = "django_otp_webauthn_webauthnattestation"
OTP_WEBAUTHN_HANDLE_TABLE = "django_otp_webauthn_webauthnuserhandle"
TWO_FACTOR_WEBAUTHN_TABLE = "two_factor_webauthn_webauthndevice"
TWO_FACTOR_KEY_PREFIX = "two_factor:"
# A site may have any of them: django-otp-webauthn needs none of django-otp's plugins, and both
# sources read both key tables (they share one ledger).
TABLES = (TOTP_TABLE, STATIC_TOKEN_TABLE, OTP_WEBAUTHN_TABLE, TWO_FACTOR_WEBAUTHN_TABLE)
TWO_FACTOR_ALL = (*TABLES, *(table for _, table in TWO_FACTOR_TABLES))
# django-otp 1.1 and django-otp-webauthn's second migration added the timestamps; older tables
# lack them.
STAMPS = ("created_at", "last_used_at")
TOTP_COLUMNS = ("id", "user_id", "name", "key", "digits", "step", "t0", "drift", "last_t")


def read(decrypt: Callable[[str], str]) -> dict[Any, UserRows]:
    """django-otp's devices, and the security keys of django-otp-webauthn and
    django-two-factor-auth; their keys are stored in the clear, so ``decrypt`` is not used."""
    return _read(OTHER_DEVICE_TABLES)


def read_two_factor(decrypt: Callable[[str], str]) -> dict[Any, UserRows]:
    """As ``read``, with django-two-factor-auth's phones."""
    return _read(OTHER_DEVICE_TABLES + TWO_FACTOR_TABLES)


def _read(others: tuple[tuple[Kind, str], ...]) -> dict[Any, UserRows]:
    found: defaultdict[Any, UserRows] = defaultdict(UserRows)
    tables = sql.tables()
    # SECURITY: both sources read both key tables: they share a ledger, and a run of one must
    # not withdraw as removed at the source what a run of the other imported.
    if OTP_WEBAUTHN_TABLE in tables:
        for key in _otp_webauthn_keys(tables):
            found[key.user_id].keys.append(key)
    if TWO_FACTOR_WEBAUTHN_TABLE in tables:
        for key in _two_factor_keys():
            found[key.user_id].keys.append(key)
    if TOTP_TABLE in tables:
        _add_totp_rows(found)
    if {STATIC_DEVICE_TABLE, STATIC_TOKEN_TABLE} <= tables:
        for code in _code_rows():
            found[code.user_id].codes.append(code)
    for kind, table in others:
        if table in tables:
            for device in sql.select(table, ("id", "user_id")):
                refusal = Decision(kind, str(device["id"]), Reason.NOT_IMPORTABLE)
                found[device["user_id"]].refused.append(refusal)
    return dict(found)


def _add_totp_rows(found: defaultdict[Any, UserRows]) -> None:
    """Each app to its owner's rows, or a ``bad_key`` refusal for a row not as django-otp writes
    it (SQLite keeps whatever a hand-edited row holds, text in an integer column too)."""
    stamps = sql.present(TOTP_TABLE, STAMPS)
    for row in sql.select(TOTP_TABLE, (*TOTP_COLUMNS, "confirmed", *stamps)):
        rows = found[row["user_id"]]
        try:
            last_t = int(row["last_t"])
            totp = TOTPRow(
                source_id=str(row["id"]),
                user_id=row["user_id"],
                name=str(row["name"])[:64],
                key=_unhex(str(row["key"])),
                digits=int(row["digits"]),
                step=int(row["step"]),
                confirmed=bool(row["confirmed"]),
                t0=int(row["t0"]),
                drift=int(row["drift"]),
                last_step=last_t if last_t >= 0 else None,
                created_at=sql.as_datetime(row.get("created_at")),
                last_used_at=sql.as_datetime(row.get("last_used_at")),
            )
        except (TypeError, ValueError):
            rows.refused.append(Decision(Kind.TOTP, str(row["id"]), Reason.BAD_KEY))
            continue
        rows.totp.append(totp)


def _code_rows() -> list[CodeRow]:
    devices = {
        row["id"]: row for row in sql.select(STATIC_DEVICE_TABLE, ("id", "user_id", "confirmed"))
    }
    codes = []
    for token in sql.select(STATIC_TOKEN_TABLE, ("id", "device_id", "token")):
        device = devices[token["device_id"]]
        codes.append(
            CodeRow(
                str(token["id"]), device["user_id"], str(token["token"]), bool(device["confirmed"])
            )
        )
    return codes


def _otp_webauthn_keys(tables: set[str]) -> list[KeyRow]:
    attestations = {}
    if OTP_WEBAUTHN_ATTESTATION_TABLE in tables:
        for row in sql.select(OTP_WEBAUTHN_ATTESTATION_TABLE, ("id", "credential_id", "data")):
            attestations[row["credential_id"]] = sql.as_bytes(row["data"])
    handles = {}
    if OTP_WEBAUTHN_HANDLE_TABLE in tables:
        columns = ("user_id", "handle_hex")
        for row in sql.select(OTP_WEBAUTHN_HANDLE_TABLE, columns, order="user_id"):
            handles[row["user_id"]] = _unhex(str(row["handle_hex"]))
    stamps = sql.present(OTP_WEBAUTHN_TABLE, STAMPS)
    names = (
        "id",
        "user_id",
        "name",
        "confirmed",
        "credential_id",
        "public_key",
        "sign_count",
        "transports",
        "aaguid",
        "backup_eligible",
        "backup_state",
        "discoverable",
        *stamps,
    )
    keys = []
    for row in sql.select(OTP_WEBAUTHN_TABLE, names):
        found = {
            "name": str(row["name"])[:64],
            "transports": tuple(_transports(row["transports"])),
            "discoverable": None if row["discoverable"] is None else bool(row["discoverable"]),
            "user_handle": handles.get(row["user_id"]),
            "confirmed": bool(row["confirmed"]),
            "created_at": sql.as_datetime(row.get("created_at")),
            "last_used_at": sql.as_datetime(row.get("last_used_at")),
        }
        attestation = attestations.get(row["id"])
        credential_id = sql.as_bytes(row["credential_id"])
        count = _count(row["sign_count"])
        if count is None:
            key = stored_key(str(row["id"]), row["user_id"], None, None, **found)
        elif attestation is not None:
            key = attested_key(str(row["id"]), row["user_id"], attestation, **found)
            # The counter and backup state have moved on since the registration.
            if key.credential_id == credential_id:
                key = replace(key, sign_count=count, backup_state=bool(row["backup_state"]))
            else:
                key = stored_key(str(row["id"]), row["user_id"], None, None, **found)
        else:
            key = stored_key(
                str(row["id"]),
                row["user_id"],
                credential_id,
                sql.as_bytes(row["public_key"]),
                rp_id=getattr(settings, "OTP_WEBAUTHN_RP_ID", None) or None,
                sign_count=count,
                aaguid=str(row["aaguid"] or ""),
                backup_eligible=bool(row["backup_eligible"]),
                backup_state=bool(row["backup_state"]),
                **found,
            )
        keys.append(key)
    return keys


def _two_factor_keys() -> list[KeyRow]:
    names = ("id", "user_id", "name", "confirmed", "public_key", "key_handle", "sign_count")
    keys = []
    for row in sql.select(TWO_FACTOR_WEBAUTHN_TABLE, (*names, *STAMPS)):
        count = _count(row["sign_count"])
        keys.append(
            stored_key(
                # Apart from django-otp-webauthn's ids, which the same ledger holds.
                f"{TWO_FACTOR_KEY_PREFIX}{row['id']}",
                row["user_id"],
                None if count is None else _unbase64url(row["key_handle"]),
                _unbase64url(row["public_key"]),
                name=str(row["name"])[:64],
                rp_id=getattr(settings, "TWO_FACTOR_WEBAUTHN_RP_ID", None) or None,
                sign_count=count or 0,
                user_handle=_two_factor_handle(row["user_id"]),
                confirmed=bool(row["confirmed"]),
                created_at=sql.as_datetime(row["created_at"]),
                last_used_at=sql.as_datetime(row["last_used_at"]),
            )
        )
    return keys


def _two_factor_handle(user_id: Any) -> bytes:
    """The user handle the plugin's ``DefaultWebauthnEntitiesFormMixin`` registers keys with."""
    pk = get_user_model()._meta.pk
    assert pk is not None
    # The id as Django gives it (raw SQL on SQLite gives a UUID without its dashes).
    text = str(pk.to_python(user_id))
    return hashlib.sha1(text.encode()).hexdigest().encode()  # noqa: S324 (not ours to choose)


def _transports(value: Any) -> list[str]:
    """django-otp-webauthn's JSON list of transport names (text, or parsed by psycopg)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return []
    return sql.list_of(value, str) or []


def _count(value: Any) -> int | None:
    """A key's counter (a negative one as 0), or ``None`` when it is no number: SQLite keeps
    text in an integer column (a crafted row, a bad key)."""
    try:
        count = int(value)
    except (TypeError, ValueError):
        return None
    return count if count >= 0 else 0


def _unbase64url(value: Any) -> bytes | None:
    try:
        return webauthn.b64url_decode(str(value))
    except ValueError:
        return None


def _unhex(key: str) -> bytes | None:
    try:
        return binascii.unhexlify(key.strip())
    except (binascii.Error, ValueError):
        return None
