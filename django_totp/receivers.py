from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from . import session


def start_pending_stage(sender: Any, request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A password login starts the pending stage: only a code verifies the new session."""
    if request is not None and hasattr(request, "session"):
        session.start_pending(request)
