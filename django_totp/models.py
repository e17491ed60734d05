from __future__ import annotations

import datetime
import hashlib
import secrets
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connections, models, router
from django.db.models.fields.related import RelatedField
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from . import crypto, oath
from .conf import conf

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

_Row = TypeVar("_Row", bound=models.Model)


class FailureCounter(models.Model):
    """Consecutive failures of one kind of second factor: back-off (R13) and hard lock (R14).

    Only a success or staff clear the count; a password login never does.
    """

    failure_count = models.PositiveIntegerField(_("consecutive failures"), default=0)
    last_failure_at = models.DateTimeField(_("last failure"), null=True, blank=True, editable=False)

    class Meta:
        abstract = True

    @property
    def is_locked(self) -> bool:
        return self.failure_count >= conf.TOTP_MAX_FAILURES

    def throttle_remaining(self, now: datetime.datetime) -> int:
        """Whole seconds until the next attempt is allowed (0 when it is allowed now)."""
        factor = conf.TOTP_THROTTLE_FACTOR
        if not self.failure_count or not factor or self.last_failure_at is None:
            return 0
        delay = datetime.timedelta(seconds=factor * 2 ** (self.failure_count - 1))
        remaining = (self.last_failure_at + delay - now).total_seconds()
        return max(0, int(-(-remaining // 1)))

    def record_failure(self, now: datetime.datetime) -> None:
        """Count one failed attempt."""
        # SECURITY: a relative UPDATE, so concurrent wrong guesses lose no increments (R13).
        type(self)._default_manager.filter(pk=self.pk).update(
            failure_count=models.F("failure_count") + 1, last_failure_at=now
        )
        self.refresh_from_db(fields=["failure_count", "last_failure_at"])

    def unlock(self) -> None:
        self.failure_count = 0
        self.last_failure_at = None
        self.save(update_fields=["failure_count", "last_failure_at"])


def lock_rows(rows: models.QuerySet[_Row]) -> list[_Row]:
    """The rows (devices or accounts), locked until the end of the current transaction."""
    if connections[rows.db].features.has_select_for_update:
        return list(rows.select_for_update().order_by("pk"))
    # SECURITY: SQLite has no row locks. A write as the transaction's first statement takes
    # the database write lock now, so concurrent attempts queue on the busy timeout instead of
    # deadlocking on a read-to-write upgrade ("database is locked") (R10).
    column = "failure_count" if issubclass(rows.model, FailureCounter) else "sign_count"
    rows.update(**{column: models.F(column)})
    return list(rows.order_by("pk"))


INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


def pk_value(model: type[models.Model], raw: Any) -> Any | None:
    """``raw`` as a primary key of ``model`` that its database can hold, else ``None``.

    Ids from URLs and forms go through this first: an integer beyond the column's range makes
    ``pk__in`` raise ``OverflowError`` (SQLite) or ``DataError`` (PostgreSQL) instead of
    finding nothing.
    """
    field = model._meta.pk
    while isinstance(field, RelatedField):  # a primary key that is a one-to-one link to a parent
        field = field.target_field
    try:
        value = field.to_python(raw)
    except ValidationError:
        return None
    if not isinstance(value, int):
        return value
    ops = connections[router.db_for_read(model)].ops
    # The stubs say int, but a backend may give no range (None).
    bounds: tuple[int | None, int | None] = ops.integer_field_range(field.get_internal_type())
    low, high = bounds
    # No database driver goes past 64 bits.
    low = max(low if low is not None else INT64_MIN, INT64_MIN)
    high = min(high if high is not None else INT64_MAX, INT64_MAX)
    return value if low <= value <= high else None


def locked_condition() -> models.Q:
    """``TOTPDevice.is_locked`` as a query condition, for filters and aggregates."""
    return models.Q(failure_count__gte=conf.TOTP_MAX_FAILURES)


class TOTPDeviceQuerySet(models.QuerySet["TOTPDevice"]):
    def confirmed(self) -> TOTPDeviceQuerySet:
        return self.filter(confirmed=True)

    def pending(self) -> TOTPDeviceQuerySet:
        return self.filter(confirmed=False)

    def locked(self) -> TOTPDeviceQuerySet:
        return self.filter(locked_condition())

    def with_failures(self) -> TOTPDeviceQuerySet:
        """Devices with failures to clear, their own or their user's wrong recovery codes."""
        return self.filter(
            models.Q(failure_count__gt=0) | models.Q(user__totp_account__failure_count__gt=0)
        )


class TOTPDevice(FailureCounter):
    """An authenticator app registered to a user.

    A device is inactive until confirmed with a code from it (R4). The secret is stored only
    encrypted (R7); ``last_used_step`` is the replay guard (R9); ``failure_count`` and
    ``last_failure_at`` drive the back-off and the hard lock (R13, R14). State changes go
    through ``services``, which holds the row lock while calling the methods below.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="totp_devices",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=64, default="Authenticator app")
    encrypted_secret = models.TextField(_("encrypted secret"), editable=False)
    digits = models.PositiveSmallIntegerField(_("digits"), default=6, editable=False)
    period = models.PositiveSmallIntegerField(_("period (seconds)"), default=30, editable=False)
    confirmed = models.BooleanField(_("confirmed"), default=False, editable=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    confirmed_at = models.DateTimeField(_("confirmed"), null=True, blank=True, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    last_used_step = models.BigIntegerField(
        _("last accepted time step"), null=True, blank=True, editable=False
    )
    replaces = models.ForeignKey(
        "self",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        editable=False,
        related_name="+",
        verbose_name=_("replaces"),
        help_text=_("For a device being set up: the device it removes once confirmed."),
    )

    objects = TOTPDeviceQuerySet.as_manager()

    class Meta:
        verbose_name = _("TOTP device")
        verbose_name_plural = _("TOTP devices")
        indexes = [models.Index(fields=["user", "confirmed"], name="django_totp_user_confirmed")]

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @classmethod
    def new_pending(cls, user: AbstractBaseUser) -> TOTPDevice:
        """An unsaved, unconfirmed device with a fresh secret and the current settings."""
        device = cls(
            # django-stubs types this foreign key as the user model of the settings mypy runs
            # with (auth.User); any AUTH_USER_MODEL instance is what it holds.
            user=user,  # type: ignore[misc]
            # The field's default, in the language of the user setting it up; they can rename it.
            name=gettext("Authenticator app"),
            digits=conf.TOTP_DIGITS,
            period=conf.TOTP_PERIOD,
        )
        device.secret = oath.generate_secret()
        return device

    @property
    def secret(self) -> str:
        return crypto.decrypt(self.encrypted_secret)

    @secret.setter
    def secret(self, value: str) -> None:
        self.encrypted_secret = crypto.encrypt(value)

    def setup_expired(self, now: datetime.datetime) -> bool:
        """Whether an unconfirmed device is past ``TOTP_SETUP_TIMEOUT``."""
        timeout = datetime.timedelta(seconds=conf.TOTP_SETUP_TIMEOUT)
        return not self.confirmed and now - self.created_at > timeout

    def match(self, code: str, at: float) -> tuple[int | None, bool]:
        """``(step, replayed)`` for a normalized code; see ``oath.match_step``."""
        return oath.match_step(
            self.secret,
            code,
            at=at,
            period=self.period,
            digits=self.digits,
            tolerance=conf.TOTP_TOLERANCE,
            after_step=self.last_used_step,
        )

    def key_uri(self, account: str, issuer: str) -> str:
        return oath.key_uri(
            self.secret, account=account, issuer=issuer, digits=self.digits, period=self.period
        )

    def consume_step(self, step: int, now: datetime.datetime) -> bool:
        """Record ``step`` as used and clear failures; False if it was not newer than the last."""
        # SECURITY: check-and-set of the replay guard in one conditional UPDATE, so two
        # submissions of one code cannot both succeed even without row locks (R9, R10).
        newer = models.Q(last_used_step__isnull=True) | models.Q(last_used_step__lt=step)
        claimed = (
            type(self)
            .objects.filter(newer, pk=self.pk)
            .update(last_used_step=step, last_used_at=now, failure_count=0, last_failure_at=None)
        )
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def mark_confirmed(self, now: datetime.datetime) -> None:
        self.confirmed = True
        self.confirmed_at = now
        self.save(update_fields=["confirmed", "confirmed_at"])


def new_remember_token() -> str:
    return secrets.token_urlsafe(32)


class TOTPAccount(FailureCounter):
    """Per-user state that is not about one device.

    ``reset_by_staff_at`` survives a staff reset (a new row) until the user's next sign-in,
    which tells them why they were signed out. ``remember_token`` is part of every "remember
    this browser" cookie (R23); replacing it makes all of them worthless at once. The failure
    fields count wrong recovery codes, apart from the devices' counts, so a locked device can
    still be recovered with a code (R14).
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="totp_account",
        verbose_name=_("user"),
    )
    remember_token = models.CharField(max_length=64, default=new_remember_token, editable=False)
    # The user.id of WebAuthn registrations: random, never the primary key or a name (W4).
    webauthn_user_handle = models.BinaryField(max_length=64, null=True, editable=False)
    # Set when staff reset the user's 2FA; the user is told at their next sign-in, then cleared.
    reset_by_staff_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("reset by staff at")
    )

    class Meta:
        verbose_name = _("two-factor account")
        verbose_name_plural = _("two-factor accounts")

    def __str__(self) -> str:
        return str(self.user)

    def forget_browsers(self) -> None:
        self.remember_token = new_remember_token()
        self.save(update_fields=["remember_token"])


class RecoveryCodeQuerySet(models.QuerySet["RecoveryCode"]):
    def unused(self) -> RecoveryCodeQuerySet:
        return self.filter(used_at__isnull=True)


class RecoveryCodeScheme(models.TextChoices):
    """How a typed recovery code is read before its digest is compared (R22, R36)."""

    # Ours: Crockford's base32, forgiving case, spaces, hyphens and o/i/l look-alikes.
    CROCKFORD = "crockford", _("standard")
    # Imported: another package's code as it was issued, forgiving only case and outer spaces.
    VERBATIM = "verbatim", _("imported")


class RecoveryCode(models.Model):
    """One single-use recovery code, stored only as a keyed digest (R22)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="totp_recovery_codes",
        verbose_name=_("user"),
    )
    digest = models.CharField(_("digest"), max_length=64, editable=False)
    scheme = models.CharField(
        _("scheme"),
        max_length=16,
        choices=RecoveryCodeScheme.choices,
        default=RecoveryCodeScheme.CROCKFORD,
        editable=False,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    used_at = models.DateTimeField(_("used"), null=True, blank=True, editable=False)

    objects = RecoveryCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("recovery code")
        verbose_name_plural = _("recovery codes")
        constraints = [
            models.UniqueConstraint(fields=["user", "digest"], name="django_totp_recovery_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} ({'used' if self.used_at else 'unused'})"


def credential_id_digest(credential_id: bytes) -> str:
    """The indexed, unique stand-in for a credential id (up to 1023 bytes) in queries."""
    return hashlib.sha256(credential_id).hexdigest()


class WebAuthnCredential(models.Model):
    """A security key or passkey registered to a user (WebAuthn): a device, as a TOTPDevice is.

    Active from registration, which proves possession (R4). ``sign_count`` is the clone guard
    (W3) and ``last_challenge`` the replay guard for authenticators that do not count: both are
    written by one conditional ``UPDATE`` under the row lock (``ceremonies``).
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="webauthn_credentials",
        verbose_name=_("user"),
    )
    name = models.CharField(_("name"), max_length=64, default="Security key")
    credential_id = models.BinaryField(_("credential id"), max_length=1023, editable=False)
    # SECURITY: unique, so one credential can never belong to two accounts, or one twice (W4).
    credential_id_hash = models.CharField(max_length=64, unique=True, editable=False)
    public_key = models.BinaryField(_("COSE public key"), editable=False)
    sign_count = models.PositiveBigIntegerField(_("signature counter"), default=0, editable=False)
    # Space-separated ("usb nfc"): how the browser may reach the key (allowCredentials).
    transports = models.CharField(_("transports"), max_length=128, blank=True, editable=False)
    aaguid = models.CharField(_("AAGUID"), max_length=36, blank=True, editable=False)
    backup_eligible = models.BooleanField(_("backup eligible"), default=False, editable=False)
    backup_state = models.BooleanField(_("backed up"), default=False, editable=False)
    discoverable = models.BooleanField(
        _("discoverable"), null=True, blank=True, editable=False, help_text=_("Unknown: empty.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    # Digest of the challenge of the last accepted assertion.
    last_challenge = models.CharField(max_length=64, blank=True, default="", editable=False)
    # The user handle the credential was registered with where that is not its owner's
    # ``TOTPAccount.webauthn_user_handle``: a passkey imported from another package answers
    # with the handle that package gave it (``totp_import``).
    user_handle = models.BinaryField(max_length=64, null=True, blank=True, editable=False)

    class Meta:
        verbose_name = _("security key")
        verbose_name_plural = _("security keys")

    def __str__(self) -> str:
        return f"{self.name} ({self.user})"

    @property
    def transport_list(self) -> list[str]:
        return self.transports.split()

    def set_credential_id(self, credential_id: bytes) -> None:
        self.credential_id = credential_id
        self.credential_id_hash = credential_id_digest(credential_id)


class DeviceKind(models.TextChoices):
    """The kinds of device: what the session record, revocation and the policy understand."""

    TOTP = "totp", _("authenticator app")
    WEBAUTHN = "webauthn", _("security key")


#: A device of either kind: an authenticator app or a security key.
Device: TypeAlias = TOTPDevice | WebAuthnCredential


def kind_of(device: Device) -> DeviceKind:
    return DeviceKind.WEBAUTHN if isinstance(device, WebAuthnCredential) else DeviceKind.TOTP


def active_devices(kind: str) -> models.QuerySet[Any]:
    """The devices of ``kind`` that count: confirmed apps, every registered key."""
    if kind == DeviceKind.WEBAUTHN:
        return WebAuthnCredential.objects.all()
    return TOTPDevice.objects.confirmed()


def device_model(kind: str) -> type[TOTPDevice] | type[WebAuthnCredential]:
    return WebAuthnCredential if kind == DeviceKind.WEBAUTHN else TOTPDevice


class VerificationMethod(models.TextChoices):
    """How a session was verified; only a typed factor or a key satisfies step-up (R28)."""

    CODE = "code", _("code")
    RECOVERY_CODE = "recovery", _("recovery code")
    REMEMBERED_BROWSER = "remembered", _("remembered browser")
    WEBAUTHN = "webauthn", _("security key")


class VerifiedSession(models.Model):
    """A server-side session that ``device`` (an app) or ``credential`` (a key) verified, so
    removing the device can end it. Exactly one of the two is set.

    Removing a device deletes every session recorded here against it from the session store
    (``revocation.end_sessions``), so revocation is usually immediate; the middleware's bounded
    re-check (R27) is what guarantees it. A row is removed only once its session no longer
    exists. Signed-cookie sessions, which cannot be deleted on the server, get no row.
    """

    device = models.ForeignKey(
        TOTPDevice,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="verified_sessions",
        verbose_name=_("device"),
    )
    credential = models.ForeignKey(
        WebAuthnCredential,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="verified_sessions",
        verbose_name=_("security key"),
    )
    session_key = models.CharField(_("session key"), max_length=64, db_index=True)
    method = models.CharField(
        _("method"),
        max_length=16,
        choices=VerificationMethod.choices,
        default=VerificationMethod.CODE,
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("verified session")
        verbose_name_plural = _("verified sessions")
        constraints = [
            models.CheckConstraint(
                condition=models.Q(device__isnull=True) ^ models.Q(credential__isnull=True),
                name="django_totp_verified_session_one_device",
            )
        ]

    def __str__(self) -> str:
        return f"{self.device_id or self.credential_id}: {self.created_at:%Y-%m-%d %H:%M}"

    @staticmethod
    def field_of(kind: str) -> str:
        """The foreign key that holds a device of ``kind``."""
        return "credential" if kind == DeviceKind.WEBAUTHN else "device"


class EnrolmentGrace(models.Model):
    """When the policy first required ``user`` to enrol, for ``TOTP_ENROLMENT_GRACE_DAYS``.

    Kept when 2FA is reset or turned off: the grace is given once, while 2FA is rolled out, and
    ends for good when the user's first device is confirmed (``ended_at``), so a reset never
    opens a new password-only window.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="totp_enrolment_grace",
        verbose_name=_("user"),
    )
    started_at = models.DateTimeField(_("required since"), default=timezone.now)
    ended_at = models.DateTimeField(_("grace ended"), null=True, blank=True)

    class Meta:
        verbose_name = _("enrolment grace period")
        verbose_name_plural = _("enrolment grace periods")

    def __str__(self) -> str:
        return str(self.user)


class ImportedRow(models.Model):
    """A row of another 2FA package that ``totp_import`` has taken over (R36).

    Kept when the device or code made of it is removed, so that a second run never brings
    back what a user or staff removed here, a lost phone's device above all. A later run also
    withdraws what was removed or used at the source since, while both sites are in use.
    """

    source = models.CharField(_("source"), max_length=32)
    kind = models.CharField(_("kind"), max_length=32)
    source_id = models.CharField(_("source id"), max_length=64)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="totp_imported_rows",
        verbose_name=_("user"),
    )
    # The device made of the row, while it lasts: the user's other devices are their own.
    device = models.ForeignKey(
        TOTPDevice,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("device"),
    )
    # The security key made of the row, while it lasts.
    credential = models.ForeignKey(
        WebAuthnCredential,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("security key"),
    )
    # The recovery code made of the row, while it lasts.
    recovery_code = models.ForeignKey(
        RecoveryCode,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name=_("recovery code"),
    )
    imported_at = models.DateTimeField(_("imported"), default=timezone.now)

    class Meta:
        verbose_name = _("imported row")
        verbose_name_plural = _("imported rows")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "kind", "source_id"], name="django_totp_imported_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source} {self.kind} {self.source_id}"
