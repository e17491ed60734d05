"""View helpers for sites using django-totp."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

ViewT = TypeVar("ViewT", bound=Callable[..., object])


def totp_exempt(view: ViewT) -> ViewT:
    """Let authenticated users reach ``view`` before the second factor.

    For pages that must work during the login flow (a help page, a health check). The view
    still sees ``request.totp`` and can decide what to show.
    """
    view.totp_exempt = True  # type: ignore[attr-defined]
    return view
