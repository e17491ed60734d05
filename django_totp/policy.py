"""Who must use two-factor authentication (``TOTP_REQUIRED_FOR``)."""

from __future__ import annotations

from typing import Any

from .conf import conf


def enrolment_required(user: Any) -> bool:
    """Whether ``TOTP_REQUIRED_FOR`` makes ``user`` keep at least one device (R25, R26)."""
    policy = conf.TOTP_REQUIRED_FOR
    if policy == "everyone":
        return True
    return policy == "staff" and bool(user.is_staff or user.is_superuser)


def may_manage(actor: Any, user: Any) -> bool:
    """Whether ``actor`` may reset or unlock ``user``'s two-factor authentication (R32).

    Only superusers act on superusers, so staff with device permissions cannot reset a
    superuser's devices or unlock them to guess again. ``actor`` is ``None`` for a management
    command (shell access is the trust it relies on); users may always act on themselves.
    """
    if actor is None or actor.pk == user.pk:
        return True
    return bool(actor.is_superuser or not user.is_superuser)
