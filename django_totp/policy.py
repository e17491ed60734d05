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
