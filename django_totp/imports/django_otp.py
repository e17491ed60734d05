"""django-otp's tables, which django-two-factor-auth uses too (R36).

Checked against django-otp 1.7.5 and django-two-factor-auth 1.18.1: ``TOTPDevice.key`` is hex,
``last_t`` the step of the code accepted last (drift included), ``t0`` the epoch, and a
``StaticToken`` row is an unused backup code (django-otp deletes it when it is used).
"""

from __future__ import annotations

import binascii
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from . import CodeRow, Decision, Kind, Reason, TOTPRow, UserRows, sql

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
TOTP_COLUMNS = ("id", "user_id", "name", "key", "digits", "step", "t0", "drift", "last_t")


def read(decrypt: Callable[[str], str]) -> dict[Any, UserRows]:
    """django-otp's devices; its keys are stored in the clear, so ``decrypt`` is not used."""
    return _read(OTHER_DEVICE_TABLES)


def read_two_factor(decrypt: Callable[[str], str]) -> dict[Any, UserRows]:
    """django-otp's devices, and django-two-factor-auth's phones."""
    return _read(OTHER_DEVICE_TABLES + TWO_FACTOR_TABLES)


def _read(others: tuple[tuple[Kind, str], ...]) -> dict[Any, UserRows]:
    found: defaultdict[Any, UserRows] = defaultdict(UserRows)
    tables = sql.tables()
    if TOTP_TABLE in tables:
        for totp in _totp_rows():
            found[totp.user_id].totp.append(totp)
    if {STATIC_DEVICE_TABLE, STATIC_TOKEN_TABLE} <= tables:
        for code in _code_rows():
            found[code.user_id].codes.append(code)
    for kind, table in others:
        if table in tables:
            for device in sql.select(table, ("id", "user_id")):
                refusal = Decision(kind, str(device["id"]), Reason.NOT_IMPORTABLE)
                found[device["user_id"]].refused.append(refusal)
    return dict(found)


def _totp_rows() -> list[TOTPRow]:
    # django-otp 1.1 added the timestamps; older tables lack them.
    stamps = [c for c in ("created_at", "last_used_at") if c in sql.columns(TOTP_TABLE)]
    return [
        TOTPRow(
            source_id=str(row["id"]),
            user_id=row["user_id"],
            name=str(row["name"])[:64],
            key=_unhex(str(row["key"])),
            digits=int(row["digits"]),
            step=int(row["step"]),
            confirmed=bool(row["confirmed"]),
            t0=int(row["t0"]),
            drift=int(row["drift"]),
            last_step=int(row["last_t"]) if int(row["last_t"]) >= 0 else None,
            created_at=sql.as_datetime(row.get("created_at")),
            last_used_at=sql.as_datetime(row.get("last_used_at")),
        )
        for row in sql.select(TOTP_TABLE, (*TOTP_COLUMNS, "confirmed", *stamps))
    ]


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


def _unhex(key: str) -> bytes | None:
    try:
        return binascii.unhexlify(key.strip())
    except (binascii.Error, ValueError):
        return None
