"""Signals django-totp sends, each after its database change has been made.

Every signal is sent with ``sender=TOTPDevice`` and these keyword arguments:

A ``device`` is a ``TOTPDevice`` (an authenticator app) or a ``WebAuthnCredential`` (a
security key or passkey); ``method`` is a ``VerificationMethod`` value (``"code"``,
``"recovery"``, ``"webauthn"``).

``device_confirmed``
    ``user``, ``device``, ``request`` (may be ``None``), ``method``: a new device proved
    possession (R4): an app's first code, or a key's registration.
``verification_succeeded``
    ``user``, ``device``, ``request``, ``method``: a code or a key's assertion was accepted.
``verification_failed``
    ``user``, ``device`` (``None`` when no single device was tried), ``request``, ``reason``
    (a ``services.Outcome`` value: ``invalid``, ``replayed``, ``throttled`` or ``locked``; for
    keys also ``expired``, ``no_device``, ``cloned`` and ``duplicate``), ``method``.
``credential_cloned``
    ``user``, ``device`` (the security key), ``request``, ``sign_count`` (the counter the
    assertion carried), ``stored_sign_count``: a correctly signed assertion whose counter did
    not rise, the sign of a cloned key; it was refused (W3). The user is e-mailed (notice
    ``webauthn_cloned``).
``repeated_failures``
    ``user``, ``device``, ``request``, ``failures``: the device's consecutive failures reached
    ``TOTP_NOTIFY_FAILURES_AFTER`` (once a streak; the user is e-mailed, notice
    ``repeated_failures``).
``device_locked``
    ``user``, ``device``, ``request``: the device reached ``TOTP_MAX_FAILURES``.
``devices_reset``
    ``user``, ``actor`` (the staff user, the user themselves when they turned 2FA off, or
    ``None`` from a management command), ``request``, ``device_ids`` (apps),
    ``credential_ids`` (security keys): all of the user's devices were removed.
``device_unlocked``
    ``user``, ``device``, ``actor``, ``request``: staff cleared a device's failures (``actor``
    is ``None`` from a management command). The user is e-mailed (notice ``unlocked``).
``device_removed``
    ``user``, ``device``, ``actor``, ``request``: one device was removed by its owner from the
    management page, or replaced by a new one (``actor`` is that user). ``device`` is the
    removed instance; its row is already deleted, so read its ``name``, not its relations.
``recovery_code_used``
    ``user``, ``request``, ``remaining`` (how many unused recovery codes the user has left): a
    recovery code verified the session.
``recovery_codes_regenerated``
    ``user``, ``request``: the user made a new set of recovery codes; the old set no longer
    works (the user is e-mailed, notice ``recovery_codes_regenerated``). Not sent for the set
    that comes with a first device.
``remembered_browser_used``
    ``user``, ``request``: a remembered-browser cookie let the session skip the code step.
"""

from __future__ import annotations

from django.dispatch import Signal

device_confirmed = Signal()
verification_succeeded = Signal()
verification_failed = Signal()
device_locked = Signal()
repeated_failures = Signal()
devices_reset = Signal()
device_unlocked = Signal()
device_removed = Signal()
recovery_code_used = Signal()
recovery_codes_regenerated = Signal()
remembered_browser_used = Signal()
credential_cloned = Signal()
