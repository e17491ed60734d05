"""The user the package works with, as a type.

A user is any ``AUTH_USER_MODEL``, typed as ``AbstractBaseUser``. The django-stubs plugin types
foreign keys to ``settings.AUTH_USER_MODEL`` as the model of the settings it is run with
(``tests.settings``: ``auth.User``), so the package looks rows up by ``user_id=user.pk``, which
holds for every user model, rather than passing a user where the plugin expects ``auth.User``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest


def is_staff(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Django's ``is_staff``, which ``AbstractBaseUser`` does not declare: ``False`` without it.

    ``TOTP_REQUIRED_FOR = "staff"`` and the reset rule (R32) read the staff flags, as Django's
    admin does. Models built on ``AbstractUser`` or ``PermissionsMixin`` have them, as fields
    or, in Django's documented custom user model, as properties; others have none.
    """
    return bool(getattr(user, "is_staff", False))


def is_superuser(user: AbstractBaseUser | AnonymousUser) -> bool:
    """Django's ``is_superuser``: ``False`` for a user model without it."""
    return bool(getattr(user, "is_superuser", False))


def signed_in_user(request: HttpRequest) -> AbstractBaseUser:
    """``request.user`` where the caller only runs for a signed-in user.

    For views behind ``LoginRequiredMixin`` and code the middleware calls for authenticated
    sessions; an anonymous user here is a bug in the caller.
    """
    user = request.user
    # is_authenticated is Literal[True] on AbstractBaseUser and Literal[False] on AnonymousUser.
    assert user.is_authenticated, "a signed-in user was expected"
    return user
