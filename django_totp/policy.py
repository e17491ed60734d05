"""Who must use two-factor authentication (``TOTP_REQUIRED_FOR``)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .conf import conf
from .users import staff_flags

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser


def enrolment_required(user: AbstractBaseUser) -> bool:
    """Whether ``TOTP_REQUIRED_FOR`` makes ``user`` keep at least one device (R25, R26)."""
    policy = conf.TOTP_REQUIRED_FOR
    if policy == "everyone":
        return True
    flags = staff_flags(user)
    return policy == "staff" and bool(flags.is_staff or flags.is_superuser)


def may_manage(actor: AbstractBaseUser | AnonymousUser | None, user: AbstractBaseUser) -> bool:
    """Whether ``actor`` may reset or unlock ``user``'s two-factor authentication (R32).

    Only superusers act on superusers, so staff with device permissions cannot reset a
    superuser's devices or unlock them to guess again. ``actor`` is ``None`` for a management
    command (shell access is the trust it relies on); users may always act on themselves.
    """
    if actor is None or actor.pk == user.pk:
        return True
    return bool(staff_flags(actor).is_superuser or not staff_flags(user).is_superuser)
