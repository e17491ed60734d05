"""django-mfa 4.x: one ``Authenticator`` table for every kind, as in allauth (R36).

Checked against django-mfa 4.6.1. A TOTP row's ``data["secret"]`` is the base32 key, signed
and compressed with the first of ``MFA_SECRET_ENCRYPTION_KEYS`` behind the prefix ``mfa1:``
when that setting is set, in the clear otherwise; 6 digits every 30 seconds;
``last_verified_counter`` the step accepted last. Recovery codes are password hashes, which
only their owner can turn back into codes, except those it migrated in plain text.
"""

from __future__ import annotations

import base64
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import signing

from . import CodeRow, Decision, KeyRow, Kind, Reason, TOTPRow, UserRows, sql, stored_key

TABLE = "django_mfa_authenticator"
ENCRYPTED_PREFIX = "mfa1:"
SIGNING_SALT = "django_mfa.secret"
HANDLE_TABLE = "django_mfa_mfauserhandle"
KINDS = {"email": Kind.EMAIL}
MAX_STEP = 2**62  # what last_used_step holds; a larger counter is a crafted row


def read(decrypt: Callable[[str], str]) -> dict[Any, UserRows]:
    """Every user's rows; ``decrypt`` is not used: django-mfa's own format is read here."""
    found: defaultdict[Any, UserRows] = defaultdict(UserRows)
    handles = _handles()
    names = ("id", "user_id", "type", "name", "data", "created_at", "last_used_at")
    for row in sql.select(TABLE, names):
        rows = found[row["user_id"]]
        data = sql.json_object(row["data"]) or {}
        if row["type"] == "totp":
            rows.totp.append(_totp_row(row, data))
        elif row["type"] == "recovery_codes":
            _add_codes(rows, row, data)
        elif row["type"] == "webauthn":
            rows.keys.append(_key_row(row, data, handles.get(row["user_id"])))
        else:
            kind = KINDS.get(row["type"], Kind.OTHER)
            rows.refused.append(Decision(kind, str(row["id"]), Reason.NOT_IMPORTABLE))
    return dict(found)


def _totp_row(row: dict[str, Any], data: dict[str, Any]) -> TOTPRow:
    last = data.get("last_verified_counter")
    return TOTPRow(
        source_id=str(row["id"]),
        user_id=row["user_id"],
        name=str(row["name"] or "")[:64],
        key=_key(data.get("secret")),
        digits=6,
        step=30,
        last_step=last if isinstance(last, int) and 0 <= last <= MAX_STEP else None,
        created_at=sql.as_datetime(row["created_at"]),
        last_used_at=sql.as_datetime(row["last_used_at"]),
    )


def _handles() -> dict[Any, bytes]:
    """Each user's WebAuthn user handle: their ``MfaUserHandle`` UUID as text, UTF-8."""
    if HANDLE_TABLE not in sql.tables():
        return {}
    handles = {}
    for row in sql.select(HANDLE_TABLE, ("id", "user_id", "handle")):
        try:
            handle = row["handle"]
            text = str(handle if isinstance(handle, uuid.UUID) else uuid.UUID(str(handle)))
        except ValueError:
            continue
        handles[row["user_id"]] = text.encode()
    return handles


def _key_row(row: dict[str, Any], data: dict[str, Any], handle: bytes | None) -> KeyRow:
    """A key as django-mfa stores it: fido2's attested credential data in hex, and its counter.

    Its RP ID is the site's ``MFA_FIDO2_RP_ID``, which every key was registered for.
    """
    parts = _credential_data(data.get("credential_data"))
    count = data.get("sign_count")
    transports = sql.list_of(data.get("transports", []), str) or []
    resident = data.get("resident")
    return stored_key(
        str(row["id"]),
        row["user_id"],
        parts[1] if parts else None,
        parts[2] if parts else None,
        name=str(row["name"] or "")[:64],
        rp_id=getattr(settings, "MFA_FIDO2_RP_ID", None) or None,
        sign_count=count if isinstance(count, int) and 0 <= count < 2**32 else 0,
        transports=tuple(transports),
        aaguid=str(uuid.UUID(bytes=parts[0])) if parts else "",
        discoverable=resident if isinstance(resident, bool) else None,
        user_handle=handle,
        created_at=sql.as_datetime(row["created_at"]),
        last_used_at=sql.as_datetime(row["last_used_at"]),
    )


def _credential_data(value: Any) -> tuple[bytes, bytes, bytes] | None:
    """AAGUID, credential id and COSE key of attested credential data (WebAuthn 6.5.2)."""
    if not isinstance(value, str):
        return None
    try:
        raw = bytes.fromhex(value)
    except ValueError:
        return None
    length = int.from_bytes(raw[16:18], "big")
    if len(raw) < 18 + length + 1:
        return None
    return raw[:16], raw[18 : 18 + length], raw[18 + length :]


def _key(secret: Any) -> bytes | None:
    if not isinstance(secret, str):
        return None
    if secret.startswith(ENCRYPTED_PREFIX):
        secret = _decrypted(secret.removeprefix(ENCRYPTED_PREFIX))
        if secret is None:
            return None
    plain = secret.strip()
    try:
        return base64.b32decode(plain + "=" * (-len(plain) % 8), casefold=True)
    except ValueError:
        return None


def _decrypted(payload: str) -> str | None:
    """What django-mfa's ``crypto.decrypt`` gives, with the keys of this site's settings."""
    for key in getattr(settings, "MFA_SECRET_ENCRYPTION_KEYS", None) or []:
        try:
            value = signing.loads(payload, key=key, salt=SIGNING_SALT)
        except signing.BadSignature:
            continue
        return value if isinstance(value, str) else None
    return None


def _add_codes(rows: UserRows, row: dict[str, Any], data: dict[str, Any]) -> None:
    codes = sql.list_of(data.get("codes", []), str)
    used = sql.list_of(data.get("used", []), int)
    if codes is None or used is None:
        # Not as django-mfa writes it: which codes are used cannot be known, so none is taken.
        rows.refused.append(Decision(Kind.BACKUP_CODE, str(row["id"]), Reason.BAD_CODE))
        return
    plain = data.get("migrated_plaintext") is True
    for index, stored in enumerate(codes):
        if index in used:
            continue
        source_id = f"{row['id']}:{index}"
        if plain:
            rows.codes.append(CodeRow(source_id, row["user_id"], stored))
        else:
            rows.refused.append(Decision(Kind.BACKUP_CODE, source_id, Reason.HASHED))
