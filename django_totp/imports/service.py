"""Applying ``plan_user``'s decisions: the import's one transactional entry point (R36)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from .. import crypto, events, recovery, services, webauthn
from ..conf import conf
from ..models import (
    Device,
    EnrolmentGrace,
    ImportedRow,
    RecoveryCode,
    RecoveryCodeScheme,
    TOTPDevice,
    WebAuthnCredential,
    credential_id_digest,
)
from ..policy import end_enrolment_grace
from ..services import locked_account
from . import Decision, Kind, Plan, UserRows, plan_user, sources

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


def imported_user_ids(source: str) -> set[Any]:
    """Users an earlier run imported rows of: each is checked again for what the source lost."""
    ledger = sources()[source].ledger
    return set(ImportedRow.objects.filter(source=ledger).values_list("user_id", flat=True))


def import_user(
    user: AbstractBaseUser,
    rows: UserRows,
    *,
    source: str,
    dry_run: bool = False,
    declared_rp_id: str | None = None,
) -> list[Decision]:
    """Take over ``user``'s devices and unused backup codes of another package (R36).

    Decided under the user's account lock, so concurrent runs, or the user enrolling during
    one, cannot import a row twice or beside a device of their own. What an earlier run
    imported and the source has since removed or used is withdrawn here. ``dry_run`` decides
    the same and rolls back. ``declared_rp_id`` is the RP ID ``--rp-id`` names for keys whose
    source kept neither their registration nor a setting. Returns a decision for every row.
    """
    try:
        plan, removed = _apply(user, rows, source, dry_run, declared_rp_id)
    except IntegrityError:
        # SECURITY: another account's registration holds its own account lock, not this one:
        # a credential id it registered between our check and our insert breaks the unique
        # index. Decided again, that key is key_here, and the run goes on (W4, W7).
        plan, removed = _apply(user, rows, source, dry_run, declared_rp_id)
    if dry_run:
        return plan.decisions
    for device, device_id in removed:
        # Signalled, logged and e-mailed as any removal: the user hears of it (R35).
        events.report_removed(user, device, device_id, None, event="device_removed")
    if plan.devices or plan.keys or plan.codes or plan.withdrawn:
        events.log_event(
            "imported",
            user=user,
            source=source,
            devices=len(plan.devices),
            keys=len(plan.keys),
            codes=len(plan.codes),
            withdrawn=len(plan.withdrawn),
        )
    return plan.decisions


def _apply(
    user: AbstractBaseUser,
    rows: UserRows,
    source: str,
    dry_run: bool,
    declared_rp_id: str | None,
) -> tuple[Plan, list[tuple[Device, int]]]:
    """``import_user``'s decisions, applied in one transaction under the account lock."""
    ledger = sources()[source].ledger
    with transaction.atomic():
        locked_account(user)
        taken = ImportedRow.objects.filter(source=ledger, user_id=user.pk)
        from_imports = taken.exclude(device=None).values("device_id")
        keys_from_imports = taken.exclude(credential=None).values("credential_id")
        devices = TOTPDevice.objects.confirmed().filter(user_id=user.pk)
        keys = WebAuthnCredential.objects.filter(user_id=user.pk)
        unused = RecoveryCode.objects.unused().filter(user_id=user.pk)
        live = (
            taken.filter(device__isnull=False)
            | taken.filter(credential__isnull=False)
            | taken.filter(recovery_code__in=unused.values("pk"))
        )
        has_imported_devices = (
            devices.filter(pk__in=from_imports).exists()
            or keys.filter(pk__in=keys_from_imports).exists()
        )
        plan = plan_user(
            rows,
            imported=_keys(taken),
            still_here=_keys(live),
            # A device of the user's own: an app or a key that no import made.
            enrolled=devices.exclude(pk__in=from_imports).exists()
            or keys.exclude(pk__in=keys_from_imports).exists(),
            has_own_codes=unused.filter(scheme=RecoveryCodeScheme.CROCKFORD).exists(),
            has_imported_devices=has_imported_devices,
            ended_here=ended_here(user, has_imported_devices),
            rp_id=conf.TOTP_WEBAUTHN_RP_ID if conf.TOTP_WEBAUTHN else None,
            declared_rp_id=declared_rp_id,
            registered=_registered(rows),
        )
        # SECURITY: withdrawing ends sessions in the session store at once (a cache is not
        # rolled back): a dry run only reports what it would withdraw.
        removed = [] if dry_run else _withdraw(taken, plan)
        _take(user, plan, ledger)
        if dry_run:
            transaction.set_rollback(True)
    return plan, removed


def _registered(rows: UserRows) -> frozenset[str]:
    """Digests of the credential ids among ``rows`` that are registered here already."""
    digests = [credential_id_digest(k.credential_id) for k in rows.keys if k.credential_id]
    if not digests:
        return frozenset()
    found = WebAuthnCredential.objects.filter(credential_id_hash__in=digests)
    return frozenset(found.values_list("credential_id_hash", flat=True))


def _keys(rows: Any) -> set[tuple[Kind, str]]:
    return {(Kind(kind), source_id) for kind, source_id in rows.values_list("kind", "source_id")}


def ended_here(user: AbstractBaseUser, has_imported_devices: bool) -> bool:
    """Whether ``user`` set up 2FA here once (their grace period ended: ``policy``) and it has
    since been reset, turned off or removed, leaving no imported device to add to.

    Lasting, unlike the staff-reset notice that the next sign-in clears: what the user or staff
    decided here, often about a lost phone that also holds the old site's key, stands (R36).
    """
    enrolled_once = EnrolmentGrace.objects.filter(user_id=user.pk, ended_at__isnull=False)
    return not has_imported_devices and enrolled_once.exists()


def _withdraw(taken: Any, plan: Plan) -> list[tuple[Device, int]]:
    """Remove here what the source lost since; the devices removed, with the ids they had."""
    removed: list[tuple[Device, int]] = []
    for decision in plan.withdrawn:
        row = taken.get(kind=decision.kind, source_id=decision.source_id)
        device: Device
        if decision.kind is Kind.BACKUP_CODE:
            RecoveryCode.objects.filter(pk=row.recovery_code_id).update(used_at=timezone.now())
            continue
        if decision.kind is Kind.WEBAUTHN:
            device = WebAuthnCredential.objects.select_related("user").get(pk=row.credential_id)
        else:
            device = TOTPDevice.objects.select_related("user").get(pk=row.device_id)
        device_id = device.pk
        services.withdraw_device(device)
        removed.append((device, device_id))
    return removed


def _take(user: AbstractBaseUser, plan: Plan, ledger: str) -> None:
    now = timezone.now()
    for row in plan.devices:
        device = TOTPDevice(
            user=user,  # type: ignore[misc]
            name=row.name or _("Authenticator app"),
            digits=row.digits,
            period=row.step,
            confirmed=True,
            created_at=row.created_at or now,
            confirmed_at=row.created_at or now,
            last_used_at=row.last_used_at,
            # SECURITY: the step of the code last accepted there stays used here (R9).
            last_used_step=row.last_step,
        )
        device.secret = row.secret()
        device.save()
        ImportedRow.objects.create(
            source=ledger, kind=Kind.TOTP, source_id=row.source_id, user_id=user.pk, device=device
        )
    for key in plan.keys:
        assert key.credential_id is not None and key.public_key is not None  # plan_user's check
        credential = WebAuthnCredential(
            user=user,  # type: ignore[misc]
            name=key.name[:64] or _("Security key"),
            public_key=key.public_key,
            sign_count=key.sign_count,
            # Each known name once, as registration stores them: a crafted list of 50 "usb"
            # would not fit the column.
            transports=" ".join(sorted(set(key.transports) & webauthn.KNOWN_TRANSPORTS)),
            aaguid=key.aaguid[:36],
            backup_eligible=key.backup_eligible,
            backup_state=key.backup_state,
            discoverable=key.discoverable,
            # SECURITY: an empty or overlong handle is none: an empty answer must not match.
            user_handle=key.user_handle if 0 < len(key.user_handle or b"") <= 64 else None,
            created_at=key.created_at or now,
            last_used_at=key.last_used_at,
        )
        credential.set_credential_id(key.credential_id)
        credential.save()
        ImportedRow.objects.create(
            source=ledger,
            kind=Kind.WEBAUTHN,
            source_id=key.source_id,
            user_id=user.pk,
            credential=credential,
        )
    for code in plan.codes:
        reading = recovery.verbatim(code.code)
        assert reading is not None  # plan_user takes only codes that have a verbatim reading
        # Two source rows may hold the same code: one recovery code stands for both.
        recovery_code, _created = RecoveryCode.objects.get_or_create(
            user_id=user.pk,
            digest=crypto.digests(reading)[0],
            defaults={"scheme": RecoveryCodeScheme.VERBATIM},
        )
        ImportedRow.objects.create(
            source=ledger,
            kind=Kind.BACKUP_CODE,
            source_id=code.source_id,
            user_id=user.pk,
            recovery_code=recovery_code,
        )
    if plan.devices or plan.keys:
        end_enrolment_grace(user)
