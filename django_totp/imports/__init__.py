"""Reading other 2FA packages' devices and backup codes for ``manage.py totp_import`` (R36).

Their tables are read with SQL, found by introspection, so the other package need not be
installed: a site can remove it first and import afterwards. Nothing here writes, to their
tables or ours; ``service.import_user`` applies what ``plan_user`` decides, and the command
reports it. Nothing secret leaves this package except inside a ``TOTPRow`` or ``CodeRow``.
One module a source family: ``django_otp`` (django-otp, django-otp-webauthn,
django-two-factor-auth), ``allauth``, ``django_mfa``.

Security keys and passkeys are bound to the relying party they were registered for: they are
imported only when that RP ID is ours (``TOTP_WEBAUTHN_RP_ID``), read from the authenticator data
the source kept where it kept any, else as the source's setting or ``--rp-id`` declares it.
"""

from __future__ import annotations

import dataclasses
import datetime
import enum
import functools
import hmac
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model

from .. import oath, recovery, webauthn
from ..conf import conf
from ..models import credential_id_digest

MIN_KEY_BYTES = 16  # SECURITY: RFC 4226 s4 R6 asks for a shared secret of at least 128 bits
# SECURITY: django-otp's static tokens hold whatever an admin typed; the shortest generated
# codes of the sources are 8 characters (django-otp, allauth).
MIN_CODE_LENGTH = 6
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
    WEBAUTHN = "webauthn"
    OTHER = "other"  # a kind the source added after the release the import was checked with


class Reason(enum.StrEnum):
    """What became of a source row; every row gets exactly one."""

    IMPORTED = "imported"
    ALREADY_IMPORTED = "already_imported"  # an earlier run took it, even if since removed
    ALREADY_ENROLLED = "already_enrolled"  # the user set up 2FA here before the import
    # 2FA was set up here once and has since been reset (a lost phone's device, often), turned
    # off or removed: what the user or staff decided here stands.
    RESET_HERE = "reset_here"
    UNCONFIRMED = "unconfirmed"
    T0 = "t0"  # codes counted from another epoch than 1970, which TOTPDevice cannot do
    CLOCK_DRIFT = "clock_drift"  # the app's clock is further off than TOTP_TOLERANCE allows
    DIGITS = "digits"
    PERIOD = "period"  # a time step outside the 15 to 300 seconds TOTP_PERIOD allows
    WEAK_KEY = "weak_key"
    BAD_KEY = "bad_key"  # not hex or base32, or a secret that could not be decrypted
    BAD_CODE = "bad_code"  # a backup code no scheme of ours can hold (too long, not ASCII)
    WEAK_CODE = "weak_code"  # a backup code under MIN_CODE_LENGTH characters
    REMOVED_AT_SOURCE = "removed_at_source"  # imported earlier, since removed there: removed
    USED_AT_SOURCE = "used_at_source"  # imported earlier, since used there: used here too
    NO_DEVICE = "no_device"  # backup codes of a user none of whose apps could be imported
    NOT_IMPORTABLE = "not_importable"  # SMS, e-mail, YubiKey OTP, HOTP counters
    HASHED = "hashed"  # backup codes kept as password hashes: only their owner knows them
    WEBAUTHN_OFF = "webauthn_off"  # a security key, and TOTP_WEBAUTHN is off here
    # SECURITY: a key answers only for the RP ID it was made for; ours is another (W2).
    RP_ID_CHANGED = "rp_id_changed"
    RP_ID_UNKNOWN = "rp_id_unknown"  # nothing says which RP ID: give --rp-id
    KEY_HERE = "key_here"  # the credential is registered here already (another user, row)
    # SECURITY: the source gives the credential id to more than one account; one of them holds
    # a copy of someone else's id, and which is not ours to guess (W4).
    KEY_SHARED = "key_shared"


@dataclass(frozen=True)
class TOTPRow:
    """An authenticator app of the source, its key decoded (``None`` if it could not be)."""

    source_id: str
    user_id: Any
    name: str
    key: bytes | None
    digits: int
    step: int
    confirmed: bool = True
    t0: int = 0
    drift: int = 0
    last_step: int | None = None  # the step of the code the source accepted last
    created_at: datetime.datetime | None = None
    last_used_at: datetime.datetime | None = None

    def secret(self) -> str:
        """The key as our base32 secret (``plan_user`` takes only rows with a key)."""
        assert self.key is not None
        return oath.secret_from_bytes(self.key)


@dataclass(frozen=True)
class KeyRow:
    """A security key or passkey of the source (``credential_id`` ``None``: unreadable)."""

    source_id: str
    user_id: Any
    name: str
    credential_id: bytes | None
    public_key: bytes | None
    # From the authenticator data of the registration, where the source kept it, else the RP
    # ID the source's settings name, if they do.
    rp_id_hash: bytes | None = None
    rp_id: str | None = None
    sign_count: int = 0
    transports: tuple[str, ...] = ()
    aaguid: str = ""
    backup_eligible: bool = False
    backup_state: bool = False
    discoverable: bool | None = None
    # The handle the source registered the credential with: a passkey answers with it.
    user_handle: bytes | None = None
    # Another account of the source holds the same credential id (``read``).
    shared: bool = False
    confirmed: bool = True
    created_at: datetime.datetime | None = None
    last_used_at: datetime.datetime | None = None


def attested_key(source_id: str, user_id: Any, attestation_object: bytes, **found: Any) -> KeyRow:
    """A key as its registration's attestation object gives it, with what else ``found``."""
    try:
        attested = webauthn.read_attestation(attestation_object)
    except (webauthn.WebAuthnError, ImportError):
        return KeyRow(source_id, user_id, credential_id=None, public_key=None, **found)
    return KeyRow(
        source_id,
        user_id,
        credential_id=attested.credential_id,
        public_key=attested.public_key,
        rp_id_hash=attested.rp_id_hash,
        sign_count=attested.sign_count,
        aaguid=attested.aaguid,
        backup_eligible=attested.backup_eligible,
        backup_state=attested.backup_state,
        **found,
    )


def stored_key(
    source_id: str,
    user_id: Any,
    credential_id: bytes | None,
    public_key: bytes | None,
    **found: Any,
) -> KeyRow:
    """A key as the source stored its parts: unreadable unless its public key is usable."""
    try:
        if public_key is not None:
            webauthn.check_public_key(public_key)
    except (webauthn.WebAuthnError, ImportError):
        public_key = None
    return KeyRow(source_id, user_id, credential_id=credential_id, public_key=public_key, **found)


@dataclass(frozen=True)
class CodeRow:
    """An unused backup code of the source, as it was issued."""

    source_id: str
    user_id: Any
    code: str
    device_confirmed: bool = True


@dataclass(frozen=True)
class Decision:
    kind: Kind
    source_id: str
    reason: Reason


@dataclass
class UserRows:
    """Everything one user has in the source."""

    totp: list[TOTPRow] = field(default_factory=list)
    codes: list[CodeRow] = field(default_factory=list)
    keys: list[KeyRow] = field(default_factory=list)
    # Rows that cannot be imported, each with its reason.
    refused: list[Decision] = field(default_factory=list)


@dataclass
class Plan:
    """What an import of one user does: rows to take, and a reason for each row."""

    devices: list[TOTPRow] = field(default_factory=list)
    keys: list[KeyRow] = field(default_factory=list)
    codes: list[CodeRow] = field(default_factory=list)
    # Rows an earlier run imported that the source no longer has (as unused): withdraw here.
    withdrawn: list[Decision] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)


@dataclass(frozen=True)
class Source:
    """A package ``totp_import --from`` names."""

    name: str
    ledger: str  # sources that read the same tables share it, so neither imports a row twice
    # The package's tables: with none of them here, there is nothing to import.
    tables: tuple[str, ...]
    read: Callable[[Callable[[str], str]], dict[Any, UserRows]]


@functools.cache
def sources() -> dict[str, Source]:
    """The sources by the name ``--from`` takes (built once, on first use: the reading
    modules import this package)."""
    from . import allauth, django_mfa, django_otp

    return {
        "django-otp": Source("django-otp", "django-otp", django_otp.TABLES, django_otp.read),
        "two-factor": Source(
            "two-factor", "django-otp", django_otp.TWO_FACTOR_ALL, django_otp.read_two_factor
        ),
        "allauth": Source("allauth", "allauth", (allauth.TABLE,), allauth.read),
        "django-mfa": Source("django-mfa", "django-mfa", (django_mfa.TABLE,), django_mfa.read),
    }


def read(
    source: str, user_ids: Iterable[Any] | None = None, *, decrypt: Callable[[str], str] = str
) -> dict[Any, UserRows]:
    """Every row of ``source`` by user id (only those of ``user_ids`` when given).

    One of the source's ``tables`` must exist (``totp_import`` says so when none does).

    ``decrypt`` turns a secret the source stored encrypted into its plain text (allauth).
    """
    # Raw SQL gives ids as the database holds them (a UUID as text on SQLite): as the ORM does.
    pk = get_user_model()._meta.pk
    assert pk is not None
    found = {
        pk.to_python(user_id): rows for user_id, rows in sources()[source].read(decrypt).items()
    }
    _mark_shared(found)
    wanted = None if user_ids is None else set(user_ids)
    return {user_id: rows for user_id, rows in found.items() if wanted is None or user_id in wanted}


def _mark_shared(found: dict[Any, UserRows]) -> None:
    """Mark the keys whose credential id the source gives to more than one account.

    allauth and django-two-factor-auth keep no unique credential id, so a user of the old site
    can register a software key under the id of someone else's key (allowCredentials shows it);
    taking it for whichever account comes first could give the attacker's public key the
    victim's id here, and leave the victim without their key (W4). All users are read even for
    ``--user``, so the answer does not depend on whom a run is for.
    """
    holders: dict[bytes, set[Any]] = {}
    for user_id, rows in found.items():
        for key in rows.keys:
            if key.credential_id is not None:
                holders.setdefault(key.credential_id, set()).add(user_id)
    for rows in found.values():
        rows.keys = [
            dataclasses.replace(key, shared=True)
            if key.credential_id is not None and len(holders[key.credential_id]) > 1
            else key
            for key in rows.keys
        ]


def plan_user(
    rows: UserRows,
    *,
    imported: set[tuple[Kind, str]],
    still_here: set[tuple[Kind, str]],
    enrolled: bool,
    has_own_codes: bool,
    has_imported_devices: bool,
    ended_here: bool,
    rp_id: str | None = None,
    declared_rp_id: str | None = None,
    registered: frozenset[str] = frozenset(),
) -> Plan:
    """What to take of one user's rows: each row gets one reason (R36).

    ``imported`` holds the (kind, source id) pairs any earlier run took, ``still_here`` those
    of them whose device or unused code is still here; ``enrolled`` whether
    the user has a device here that no import made; ``has_own_codes`` whether they have
    unused recovery codes of ours; ``has_imported_devices`` whether an earlier run gave them
    a device that is still here; ``ended_here`` whether the user's 2FA here, set up once, has
    since been reset, turned off or removed, with no imported device left.

    Keys: ``rp_id`` is ours (``None`` while security keys are off), ``declared_rp_id`` the one
    ``--rp-id`` names for keys nothing else places, ``registered`` the digests of credential ids
    registered here already.
    """
    plan = Plan()
    ended = Reason.RESET_HERE if ended_here else None
    refused_devices = Reason.ALREADY_ENROLLED if enrolled else ended
    for row in rows.totp:
        reason = _totp_reason(row, imported, refused_devices)
        plan.decisions.append(Decision(Kind.TOTP, row.source_id, reason))
        if reason is Reason.IMPORTED:
            plan.devices.append(row)
    taken = set(registered)
    for key in rows.keys:
        reason = _key_reason(key, imported, refused_devices, rp_id, declared_rp_id, taken)
        plan.decisions.append(Decision(Kind.WEBAUTHN, key.source_id, reason))
        if reason is Reason.IMPORTED:
            plan.keys.append(key)
    refused_codes = Reason.ALREADY_ENROLLED if enrolled or has_own_codes else ended
    has_device = bool(plan.devices or plan.keys) or has_imported_devices
    for code in rows.codes:
        reason = _code_reason(code, imported, refused_codes, has_device=has_device)
        plan.decisions.append(Decision(Kind.BACKUP_CODE, code.source_id, reason))
        if reason is Reason.IMPORTED:
            plan.codes.append(code)
    plan.decisions.extend(rows.refused)
    # SECURITY: between a first run and the switch both sites are in use; a device removed
    # or a code used at the old one must not live on here (R36).
    present = {(Kind.TOTP, row.source_id) for row in rows.totp}
    present |= {(Kind.WEBAUTHN, key.source_id) for key in rows.keys}
    present |= {(Kind.BACKUP_CODE, code.source_id) for code in rows.codes}
    for kind, source_id in sorted(still_here - present):
        reason = Reason.USED_AT_SOURCE if kind is Kind.BACKUP_CODE else Reason.REMOVED_AT_SOURCE
        plan.withdrawn.append(Decision(kind, source_id, reason))
    plan.decisions.extend(plan.withdrawn)
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
    if row.key is None:
        return Reason.BAD_KEY
    if len(row.key) < MIN_KEY_BYTES:
        return Reason.WEAK_KEY
    # django-otp looks ``drift`` steps away from now; we look TOTP_TOLERANCE steps either way
    # and keep no per-device offset, which would also keep a wrong phone clock wrong for good.
    if abs(row.drift) > conf.TOTP_TOLERANCE:
        return Reason.CLOCK_DRIFT
    return Reason.IMPORTED


def _key_reason(
    row: KeyRow,
    imported: set[tuple[Kind, str]],
    refused_user: Reason | None,
    rp_id: str | None,
    declared_rp_id: str | None,
    taken: set[str],
) -> Reason:
    if (Kind.WEBAUTHN, row.source_id) in imported:
        return Reason.ALREADY_IMPORTED
    if refused_user is not None:
        return refused_user
    if not row.confirmed:
        return Reason.UNCONFIRMED
    if rp_id is None:
        return Reason.WEBAUTHN_OFF
    if row.credential_id is None or row.public_key is None:
        return Reason.BAD_KEY
    # SECURITY: an empty id is no id (and escapes the check for ids registered here); one over
    # 1023 bytes no assertion can name (W7). Either is a crafted row.
    if not 0 < len(row.credential_id) <= webauthn.MAX_CREDENTIAL_ID_BYTES:
        return Reason.BAD_KEY
    # SECURITY: what the authenticator signed for beats what settings say of it (W2).
    if row.rp_id_hash is not None:
        same = hmac.compare_digest(row.rp_id_hash, webauthn.rp_id_hash(rp_id))
    elif (row.rp_id or declared_rp_id) is not None:
        same = (row.rp_id or declared_rp_id or "").lower() == rp_id.lower()
    else:
        return Reason.RP_ID_UNKNOWN
    if not same:
        return Reason.RP_ID_CHANGED
    # SECURITY: a credential belongs to one account (W4), and is imported once.
    if row.shared:
        return Reason.KEY_SHARED
    digest = credential_id_digest(row.credential_id)
    if digest in taken:
        return Reason.KEY_HERE
    taken.add(digest)
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
    normalized = recovery.normalize_verbatim(code.code)
    if normalized is None:
        return Reason.BAD_CODE
    if len(normalized) < MIN_CODE_LENGTH:
        return Reason.WEAK_CODE
    # Recovery codes stand in for a device; with none, the user enrols afresh anyway.
    if not has_device:
        return Reason.NO_DEVICE
    return Reason.IMPORTED
