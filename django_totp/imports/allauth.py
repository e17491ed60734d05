"""django-allauth's ``mfa`` app: one ``Authenticator`` table for every kind (R36).

Checked against django-allauth 65.22.1. A TOTP row's ``data["secret"]`` is the base32 key as
the site's MFA adapter encrypted it (by default, not at all); digits and period are the site's
``MFA_TOTP_DIGITS`` and ``MFA_TOTP_PERIOD``. Recovery codes are derived from an encrypted seed,
``used_mask`` marking the used ones, unless the row holds ``migrated_codes``. A WebAuthn row
keeps the browser's whole registration response (``data["credential"]``), whose attestation
object names the RP ID (allauth took the host name of each request) and whose
``credProps.rk`` says whether it is a passkey; allauth never stored the counter again, and its
user handle is the user's id as ``user_pk_to_url_str`` writes it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import models
from django.utils.http import int_to_base36

from .. import crypto, recovery, webauthn
from . import CodeRow, Decision, KeyRow, Kind, Reason, TOTPRow, UserRows, attested_key, sql

TABLE = "mfa_authenticator"


def read(decrypt: Callable[[str], str]) -> dict[Any, UserRows]:
    found: defaultdict[Any, UserRows] = defaultdict(UserRows)
    names = ("id", "user_id", "type", "data", "created_at", "last_used_at")
    for row in sql.select(TABLE, names):
        rows = found[row["user_id"]]
        data = sql.json_object(row["data"]) or {}
        if row["type"] == "totp":
            rows.totp.append(_totp_row(row, data, decrypt))
        elif row["type"] == "recovery_codes":
            codes = _codes(row, data, decrypt)
            if codes is None:
                rows.refused.append(Decision(Kind.BACKUP_CODE, str(row["id"]), Reason.BAD_KEY))
            rows.codes.extend(codes or [])
        elif row["type"] == "webauthn":
            rows.keys.append(_key_row(row, data))
        else:
            refusal = Decision(Kind.OTHER, str(row["id"]), Reason.NOT_IMPORTABLE)
            rows.refused.append(refusal)
    return dict(found)


def _key_row(row: dict[str, Any], data: dict[str, Any]) -> KeyRow:
    credential = data.get("credential")
    response = credential.get("response") if isinstance(credential, dict) else None
    attestation = response.get("attestationObject") if isinstance(response, dict) else None
    found: dict[str, Any] = {
        "name": data["name"][:64] if isinstance(data.get("name"), str) else "",
        "transports": tuple(sql.list_of(response.get("transports"), str) or [])
        if isinstance(response, dict)
        else (),
        "discoverable": _resident(credential),
        "user_handle": _user_handle(row["user_id"]),
        "created_at": sql.as_datetime(row["created_at"]),
        "last_used_at": sql.as_datetime(row["last_used_at"]),
    }
    try:
        raw = webauthn.b64url_decode(attestation) if isinstance(attestation, str) else None
    except ValueError:
        raw = None
    if raw is None:
        return KeyRow(str(row["id"]), row["user_id"], credential_id=None, public_key=None, **found)
    return attested_key(str(row["id"]), row["user_id"], raw, **found)


def _resident(credential: Any) -> bool | None:
    """``credProps.rk``, as allauth's ``is_passwordless`` reads it."""
    extensions = credential.get("clientExtensionResults") if isinstance(credential, dict) else None
    props = extensions.get("credProps") if isinstance(extensions, dict) else None
    rk = props.get("rk") if isinstance(props, dict) else None
    return rk if isinstance(rk, bool) else None


def _user_handle(user_id: Any) -> bytes:
    """The handle allauth registers keys with: ``user_pk_to_url_str(user)``, UTF-8."""
    pk = get_user_model()._meta.pk
    assert pk is not None
    return url_str(pk, user_id).encode()


def url_str(pk: models.Field[Any, Any], user_id: Any) -> str:
    """allauth's ``user_pk_to_url_str`` for the user whose primary key ``pk`` holds ``user_id``."""
    value = pk.to_python(user_id)
    if isinstance(pk, models.UUIDField):
        text = value.hex if isinstance(value, uuid.UUID) else str(value)
    elif isinstance(pk, models.IntegerField):
        text = int_to_base36(int(value))
    else:
        text = str(value)
    return text


def _totp_row(row: dict[str, Any], data: dict[str, Any], decrypt: Callable[[str], str]) -> TOTPRow:
    period = int(getattr(settings, "MFA_TOTP_PERIOD", 30))
    return TOTPRow(
        source_id=str(row["id"]),
        user_id=row["user_id"],
        name="",
        key=_key(data.get("secret"), decrypt),
        digits=int(getattr(settings, "MFA_TOTP_DIGITS", 6)),
        step=period,
        # SECURITY: allauth kept its used codes in the cache, which the import cannot read:
        # the code of this step, and earlier ones, count as used (R9).
        last_step=int(time.time() // period),
        created_at=sql.as_datetime(row["created_at"]),
        last_used_at=sql.as_datetime(row["last_used_at"]),
    )


def _key(secret: Any, decrypt: Callable[[str], str]) -> bytes | None:
    try:
        plain = decrypt(secret).strip()
        return base64.b32decode(plain + "=" * (-len(plain) % 8), casefold=True)
    # The adapter's errors are unknown to us: a key it cannot give is no key (bad_key).
    except Exception:  # noqa: BLE001
        return None


def _codes(
    row: dict[str, Any], data: dict[str, Any], decrypt: Callable[[str], str]
) -> list[CodeRow] | None:
    """The unused codes, or ``None`` if the row cannot be read: a seed or code not decrypted,
    or values not of the types allauth writes (a crafted row is refused whole)."""
    migrated = data.get("migrated_codes")
    used_mask = data.get("used_mask", 0)
    try:
        if migrated is not None:
            codes = sql.list_of(migrated, str)
            if codes is None:
                return None
            plain = [_text(decrypt(code)) for code in codes]
            # Codes leave the list as they are used, so a code's place is no lasting id.
            return [CodeRow(f"{row['id']}:{_keyed(code)}", row["user_id"], code) for code in plain]
        if not isinstance(used_mask, int) or isinstance(used_mask, bool):
            return None
        seeded = _seeded_codes(_text(decrypt(data["seed"])))
    # The adapter's errors are unknown to us; a seed that is not ASCII fails to encode.
    except Exception:  # noqa: BLE001
        return None
    return [
        CodeRow(f"{row['id']}:{index}", row["user_id"], code)
        for index, code in enumerate(seeded)
        if not used_mask & (1 << index)
    ]


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("not text")
    return value


def _seeded_codes(seed: str) -> list[str]:
    """allauth's recovery codes from their seed: one running HMAC-SHA1, updated per code."""
    count = int(getattr(settings, "MFA_RECOVERY_CODE_COUNT", 10))
    digits = int(getattr(settings, "MFA_RECOVERY_CODE_DIGITS", 8))
    running = hmac.new(seed.encode("ascii"), digestmod=hashlib.sha1)
    width = min(digits // 2, running.digest_size)
    codes = []
    for index in range(count):
        running.update(f"{index:3},".encode())
        value = int.from_bytes(running.digest()[:width], "big") % 10**digits
        codes.append(str(value).zfill(digits))
    return codes


def _keyed(code: str) -> str:
    """A code's lasting id in the ledger: keyed, so the ledger does not give the code away."""
    return crypto.digests(recovery.verbatim(code) or code)[0][:40]
