"""What the per-user commands share: finding the user by the user model's USERNAME_FIELD."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.contrib.auth import get_user_model
from django.core.management.base import CommandError

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser


def get_user(username: str) -> AbstractBaseUser:
    """The user whose ``USERNAME_FIELD`` is ``username``, or a ``CommandError`` saying so."""
    user_model = get_user_model()
    field = user_model.USERNAME_FIELD
    try:
        return user_model._default_manager.get(**{field: username})
    except user_model.DoesNotExist:
        raise CommandError(f"No user with {field} {username!r}. Nothing was changed.") from None
