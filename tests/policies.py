"""Policy functions for ``TOTP_REQUIRED_CALLABLE`` in tests/test_policy.py."""

from __future__ import annotations

from typing import Any


def named_editor(user: Any) -> bool:
    return str(user.get_username()).startswith("editor")


NOT_A_FUNCTION = 42
