"""Signals django-totp sends, each after its database change has been made.

Every signal is sent with ``sender=TOTPDevice`` and these keyword arguments:

``device_confirmed``
    ``user``, ``device``, ``request`` (may be ``None``): a new device proved possession (R4).
``verification_succeeded``
    ``user``, ``device``, ``request``: a code was accepted and the session verified.
``verification_failed``
    ``user``, ``device`` (``None`` when no single device was tried), ``request``, ``reason``
    (a ``services.Outcome`` value: ``invalid``, ``replayed``, ``throttled`` or ``locked``).
``device_locked``
    ``user``, ``device``, ``request``: the device reached ``TOTP_MAX_FAILURES``.
``devices_reset``
    ``user``, ``actor`` (the staff user, the user themselves when they turned 2FA off, or
    ``None`` from a management command), ``request``, ``device_ids``: all of the user's devices
    were removed.
``device_unlocked``
    ``user``, ``device``, ``actor``, ``request``: staff cleared a device's failures.
"""

from __future__ import annotations

from django.dispatch import Signal

device_confirmed = Signal()
verification_succeeded = Signal()
verification_failed = Signal()
device_locked = Signal()
devices_reset = Signal()
device_unlocked = Signal()
