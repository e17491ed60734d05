"""Reading other 2FA packages' devices and backup codes for ``manage.py totp_import`` (R36).

Their tables are read with SQL, found by introspection, so the other package need not be
installed: a site can remove it first and import afterwards. Nothing here writes, to their
tables or ours; ``services.import_user`` applies what ``plan_user`` decides, and the command
reports it. Nothing secret leaves this module except inside a ``TOTPRow`` or ``CodeRow``.
"""

from __future__ import annotations

import binascii
import datetime
import enum
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from . import oath, recovery
from .conf import conf

# The names the command takes; django-two-factor-auth keeps its devices in django-otp's tables
# and adds phone devices of its own.
SOURCES = ("django-otp", "two-factor")
# Both read django-otp's tables, so an import through one counts for the other (the ledger).
LEDGER_NAMES = {"django-otp": "django-otp", "two-factor": "django-otp"}
MIN_KEY_BYTES = 16  # SECURITY: RFC 4226 s4 R6 asks for a shared secret of at least 128 bits
DIGITS = (6, 7, 8)  # what TOTPDevice can check
PERIODS = (15, 300)  # seconds, as TOTP_PERIOD allows


class Kind(enum.StrEnum):
    """What a source row is, in the report."""

    TOTP = "totp"
    BACKUP_CODE = "backup_code"
    HOTP = "hotp"
    EMAIL = "email"
    PHONE = "phone"
    YUBIKEY = "yubikey"


class Reason(enum.StrEnum):
    """What became of a source row; every row gets exactly one."""

    IMPORTED = "imported"
    ALREADY_IMPORTED = "already_imported"  # an earlier run took it, even if since removed
    ALREADY_ENROLLED = "already_enrolled"  # the user set up 2FA here before the import
    RESET_BY_STAFF = "reset_by_staff"  # staff reset the user here: a lost phone's device
    UNCONFIRMED = "unconfirmed"
    T0 = "t0"  # codes counted from another epoch than 1970, which TOTPDevice cannot do
    CLOCK_DRIFT = "clock_drift"  # the app's clock is further off than TOTP_TOLERANCE allows
    DIGITS = "digits"
    PERIOD = "period"  # a time step outside the 15 to 300 seconds TOTP_PERIOD allows
    WEAK_KEY = "weak_key"
    BAD_KEY = "bad_key"
    BAD_CODE = "bad_code"  # a backup code no scheme of ours can hold (inner spaces, too long)
    NO_DEVICE = "no_device"  # backup codes of a user none of whose apps could be imported
    NOT_IMPORTABLE = "not_importable"  # SMS, e-mail, YubiKey OTP, HOTP counters


@dataclass(frozen=True)
class TOTPRow:
    """A django-otp ``TOTPDevice`` row, as the source holds it."""

    source_id: str
    user_id: Any
    name: str
    hex_key: str
    digits: int
    step: int
    t0: int
    drift: int
    last_t: int
    confirmed: bool
    created_at: datetime.datetime | None
    last_used_at: datetime.datetime | None

    def secret(self) -> str | None:
        """The key as our base32 secret, or ``None`` if it is not hex."""
        try:
            key = binascii.unhexlify(self.hex_key.strip())
        except (binascii.Error, ValueError):
            return None
        return oath.secret_from_bytes(key)

    def key_bytes(self) -> int:
        return len(self.hex_key.strip()) // 2


@dataclass(frozen=True)
class CodeRow:
    """An unused backup code of the source, as it was issued."""

    source_id: str
    user_id: Any
    code: str
    device_confirmed: bool


@dataclass
class UserRows:
    """Everything one user has in the source."""

    totp: list[TOTPRow] = field(default_factory=list)
    codes: list[CodeRow] = field(default_factory=list)
    other: list[tuple[Kind, str]] = field(default_factory=list)  # (kind, source id)


@dataclass(frozen=True)
class Decision:
    kind: Kind
    source_id: str
    reason: Reason


@dataclass
class Plan:
    """What an import of one user does: rows to take, and a reason for each row."""

    devices: list[TOTPRow] = field(default_factory=list)
    codes: list[CodeRow] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


def read(source: str, user_ids: Iterable[Any] | None = None) -> dict[Any, UserRows]:
    """Every row of ``source`` by user id (only those of ``user_ids`` when given)."""
    if source not in SOURCES:
        raise ValueError(f"unknown source {source!r}")
    wanted = None if user_ids is None else set(user_ids)
    found: defaultdict[Any, UserRows] = defaultdict(UserRows)
    tables = set(connection.introspection.table_names())
    for row in _totp_rows(tables):
        found[row.user_id].totp.append(row)
    for code in _code_rows(tables):
        found[code.user_id].codes.append(code)
    for kind, table in OTHER_DEVICE_TABLES:
        if table in tables and (source == "two-factor" or kind is not Kind.PHONE):
            query = f"SELECT {_q('id')}, {_q('user_id')} FROM {_q(table)}"  # noqa: S608
            for source_id, user_id in _select(query):
                found[user_id].other.append((kind, str(source_id)))
    return {user_id: rows for user_id, rows in found.items() if wanted is None or user_id in wanted}


def tables_found() -> bool:
    """Whether the database holds django-otp's TOTP device table at all."""
    return TOTP_TABLE in connection.introspection.table_names()


def plan_user(
    rows: UserRows,
    *,
    imported: set[tuple[Kind, str]],
    enrolled: bool,
    has_own_codes: bool,
    has_imported_devices: bool,
    reset_by_staff: bool,
) -> Plan:
    """What to take of one user's rows: each row gets one reason (R36).

    ``imported`` holds the (kind, source id) pairs any earlier run took; ``enrolled`` whether
    the user has a device here that no import made; ``has_own_codes`` whether they have
    unused recovery codes of ours; ``has_imported_devices`` whether an earlier run gave them
    a device that is still here; ``reset_by_staff`` whether staff reset the user here.
    """
    plan = Plan()
    refused = Reason.RESET_BY_STAFF if reset_by_staff else None
    refused_devices = refused or (Reason.ALREADY_ENROLLED if enrolled else None)
    for row in rows.totp:
        reason = _totp_reason(row, imported, refused_devices)
        plan.decisions.append(Decision(Kind.TOTP, row.source_id, reason))
        if reason is Reason.IMPORTED:
            plan.devices.append(row)
    refused_codes = refused or (Reason.ALREADY_ENROLLED if enrolled or has_own_codes else None)
    has_device = bool(plan.devices) or has_imported_devices
    for code in rows.codes:
        reason = _code_reason(code, imported, refused_codes, has_device=has_device)
        plan.decisions.append(Decision(Kind.BACKUP_CODE, code.source_id, reason))
        if reason is Reason.IMPORTED:
            plan.codes.append(code)
    plan.decisions.extend(Decision(kind, sid, Reason.NOT_IMPORTABLE) for kind, sid in rows.other)
    return plan


def _totp_reason(
    row: TOTPRow, imported: set[tuple[Kind, str]], refused_user: Reason | None
) -> Reason:
    if (Kind.TOTP, row.source_id) in imported:
        return Reason.ALREADY_IMPORTED
    if refused_user is not None:
        return refused_user
    if not row.confirmed:
        return Reason.UNCONFIRMED
    if row.t0 != 0:
        return Reason.T0
    if row.digits not in DIGITS:
        return Reason.DIGITS
    if not PERIODS[0] <= row.step <= PERIODS[1]:
        return Reason.PERIOD
    if row.secret() is None:
        return Reason.BAD_KEY
    if row.key_bytes() < MIN_KEY_BYTES:
        return Reason.WEAK_KEY
    # django-otp looks ``drift`` steps away from now; we look TOTP_TOLERANCE steps either way
    # and keep no per-device offset, which would also keep a wrong phone clock wrong for good.
    if abs(row.drift) > conf.TOTP_TOLERANCE:
        return Reason.CLOCK_DRIFT
    return Reason.IMPORTED


def _code_reason(
    code: CodeRow, imported: set[tuple[Kind, str]], refused_user: Reason | None, *, has_device: bool
) -> Reason:
    if (Kind.BACKUP_CODE, code.source_id) in imported:
        return Reason.ALREADY_IMPORTED
    if refused_user is not None:
        return refused_user
    if not code.device_confirmed:
        return Reason.UNCONFIRMED
    if recovery.verbatim(code.code) is None:
        return Reason.BAD_CODE
    # Recovery codes stand in for a device; with none, the user enrols afresh anyway.
    if not has_device:
        return Reason.NO_DEVICE
    return Reason.IMPORTED


TOTP_TABLE = "otp_totp_totpdevice"
STATIC_DEVICE_TABLE = "otp_static_staticdevice"
STATIC_TOKEN_TABLE = "otp_static_statictoken"
OTHER_DEVICE_TABLES = (
    (Kind.HOTP, "otp_hotp_hotpdevice"),
    (Kind.EMAIL, "otp_email_emaildevice"),
    (Kind.YUBIKEY, "otp_yubikey_yubikeydevice"),
    (Kind.YUBIKEY, "otp_yubikey_remoteyubikeydevice"),
    (Kind.PHONE, "two_factor_phonedevice"),
)
TOTP_COLUMNS = ("id", "user_id", "name", "key", "digits", "step", "t0", "drift", "last_t")


def _totp_rows(tables: set[str]) -> Iterator[TOTPRow]:
    if TOTP_TABLE not in tables:
        return
    # django-otp 1.1 added the timestamps; older tables lack them.
    columns = _columns(TOTP_TABLE)
    stamps = [c for c in ("created_at", "last_used_at") if c in columns]
    names = [*TOTP_COLUMNS, "confirmed", *stamps]
    # Every identifier in these queries is a constant of this module, quoted.
    query = f"SELECT {', '.join(map(_q, names))} FROM {_q(TOTP_TABLE)} ORDER BY {_q('id')}"  # noqa: S608
    for values in _select(query):
        row = dict(zip(names, values, strict=True))
        yield TOTPRow(
            source_id=str(row["id"]),
            user_id=row["user_id"],
            name=str(row["name"])[:64],
            hex_key=str(row["key"]),
            digits=int(row["digits"]),
            step=int(row["step"]),
            t0=int(row["t0"]),
            drift=int(row["drift"]),
            last_t=int(row["last_t"]),
            confirmed=bool(row["confirmed"]),
            created_at=_as_datetime(row.get("created_at")),
            last_used_at=_as_datetime(row.get("last_used_at")),
        )


def _code_rows(tables: set[str]) -> Iterator[CodeRow]:
    if not {STATIC_DEVICE_TABLE, STATIC_TOKEN_TABLE} <= tables:
        return
    # django-otp deletes a static token when it is used: every row left is unused.
    query = (
        f"SELECT t.{_q('id')}, d.{_q('user_id')}, t.{_q('token')}, d.{_q('confirmed')} "  # noqa: S608
        f"FROM {_q(STATIC_TOKEN_TABLE)} t JOIN {_q(STATIC_DEVICE_TABLE)} d "
        f"ON t.{_q('device_id')} = d.{_q('id')} ORDER BY t.{_q('id')}"
    )
    for source_id, user_id, token, confirmed in _select(query):
        yield CodeRow(str(source_id), user_id, str(token), bool(confirmed))


def _as_datetime(value: Any) -> datetime.datetime | None:
    """A timestamp column's value: raw SQL on SQLite gives text, other backends datetimes."""
    if isinstance(value, str):
        value = parse_datetime(value)
    if not isinstance(value, datetime.datetime):
        return None
    if settings.USE_TZ and timezone.is_naive(value):
        return timezone.make_aware(value, datetime.UTC)
    return value


def _columns(table: str) -> set[str]:
    with connection.cursor() as cursor:
        description = connection.introspection.get_table_description(cursor, table)
    return {column.name for column in description}


def _select(query: str) -> Sequence[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(query)
        return list(cursor.fetchall())


def _q(name: str) -> str:
    return connection.ops.quote_name(name)
