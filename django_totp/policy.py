"""Who must use two-factor authentication, and who may change whose."""

from __future__ import annotations

import datetime
import functools
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeGuard, TypeVar, cast

from django.contrib.auth import get_backends
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import FieldDoesNotExist, ImproperlyConfigured
from django.db.models import Model, Q, QuerySet
from django.utils import timezone
from django.utils.module_loading import import_string

from .conf import conf
from .models import EnrolmentGrace
from .users import is_staff, is_superuser

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser

UserT = TypeVar("UserT", bound=Model)


def enrolment_required(user: AbstractBaseUser) -> bool:
    """Whether the site's policy makes ``user`` keep at least one device (R25, R26).

    ``TOTP_REQUIRED_FOR`` covers them, or they hold one of ``TOTP_REQUIRED_PERMISSIONS``, or
    belong to one of ``TOTP_REQUIRED_GROUPS``, or ``TOTP_REQUIRED_CALLABLE`` says so.
    """
    policy = conf.TOTP_REQUIRED_FOR
    if policy == "everyone":
        return True
    if policy == "staff" and (is_staff(user) or is_superuser(user)):
        return True
    # SECURITY: sites that grant their admin by permission or group (Wagtail's editors are not
    # is_staff) must be able to cover those users, or the admin answers a password alone.
    has_perm = getattr(user, "has_perm", None)  # user models without PermissionsMixin lack it
    if has_perm is not None and any(has_perm(name) for name in conf.TOTP_REQUIRED_PERMISSIONS):
        return True
    groups = conf.TOTP_REQUIRED_GROUPS
    members = getattr(user, "groups", None)
    if groups and members is not None and members.filter(name__in=groups).exists():
        return True
    path = conf.TOTP_REQUIRED_CALLABLE
    return bool(path and required_by_callable(path)(user))


def enrolment_grace_ends(user: AbstractBaseUser) -> datetime.datetime | None:
    """When the grace period of a user the policy covers, and who has no device, ends.

    ``None`` when there is none (``TOTP_ENROLMENT_GRACE_DAYS`` is 0, it is over, or it ended
    when the user first enrolled): the user must enrol now. Starts the period on first call.
    """
    if conf.TOTP_ENROLMENT_GRACE_DAYS <= 0:
        return None
    now = timezone.now()
    grace, _ = EnrolmentGrace.objects.get_or_create(user_id=user.pk, defaults={"started_at": now})
    return grace_ends(grace, now)


def grace_ends(grace: EnrolmentGrace, now: datetime.datetime) -> datetime.datetime | None:
    """When ``grace`` ends, or ``None`` when it is over (or ``TOTP_ENROLMENT_GRACE_DAYS`` is 0).

    Reads the row only: ``enrolment_grace_ends`` starts a period, reports must not.
    """
    days = conf.TOTP_ENROLMENT_GRACE_DAYS
    if days <= 0:
        return None
    ends = grace.started_at + datetime.timedelta(days=days)
    # SECURITY: given once: after the first device, or once over, never again (a reset must not
    # open a password-only window).
    return ends if grace.ended_at is None and now < ends else None


def required_among(users: QuerySet[UserT]) -> list[UserT]:
    """The users of ``users`` whom ``enrolment_required`` covers, in the queryset's order.

    The same rule asked of many users at once, for reports. What the database can answer
    exactly becomes one condition: staff flags and groups that are fields, and permissions
    through Django's own ``ModelBackend.with_perm`` (its batch form of ``has_perm``). Where any
    part cannot be answered so (flags that are properties, other backends, the site's
    function), ``enrolment_required`` itself is asked of each user the condition leaves out, so
    the two never disagree. ``tests/test_rollout.py`` checks that they agree.
    """
    if conf.TOTP_REQUIRED_FOR == "everyone":
        return list(users)
    condition, exact = _coverage_condition(users.model)
    if exact:
        return list(users.filter(condition))
    covered = set(users.filter(condition).values_list("pk", flat=True))
    return [
        user
        for user in users
        if user.pk in covered or enrolment_required(cast("AbstractBaseUser", user))
    ]


def _coverage_condition(model: type[Model]) -> tuple[Q, bool]:
    """A condition that holds only for users the policy covers, and whether it finds them all."""
    condition = Q(pk__in=[])
    exact = not conf.TOTP_REQUIRED_CALLABLE
    if conf.TOTP_REQUIRED_FOR == "staff":
        for flag in ("is_staff", "is_superuser"):
            if has_field(model, flag):
                condition |= Q(**{flag: True})
            elif hasattr(model, flag):  # a property: only the user object can answer
                exact = False
    permissions = conf.TOTP_REQUIRED_PERMISSIONS
    if permissions and hasattr(model, "has_perm"):
        with_fields = all(has_field(model, name) for name in ("is_superuser", "is_active"))
        if with_fields:
            # PermissionsMixin.has_perm: active superusers hold every permission.
            condition |= Q(is_superuser=True, is_active=True)
        for backend in get_backends():
            if with_fields and _answers_as_model_backend(backend):
                for name in permissions:
                    condition |= Q(pk__in=backend.with_perm(name).values("pk"))
            elif hasattr(backend, "has_perm"):
                exact = False
    groups = conf.TOTP_REQUIRED_GROUPS
    if groups and has_field(model, "groups"):
        condition |= Q(pk__in=model._default_manager.filter(groups__name__in=groups).values("pk"))
    elif groups and hasattr(model, "groups"):
        exact = False
    return condition, exact


# What ModelBackend.has_perm consults: a backend that overrides none of them answers as
# with_perm does.
_PERMISSION_METHODS = (
    "has_perm",
    "with_perm",
    "get_all_permissions",
    "get_user_permissions",
    "get_group_permissions",
    "_get_permissions",
    "_get_user_permissions",
    "_get_group_permissions",
)


def _answers_as_model_backend(backend: object) -> TypeGuard[ModelBackend]:
    return isinstance(backend, ModelBackend) and all(
        getattr(type(backend), name) is getattr(ModelBackend, name) for name in _PERMISSION_METHODS
    )


def has_field(model: type[Model], name: str) -> bool:
    """Whether ``model`` has a field ``name`` (user models need not have staff flags, groups)."""
    try:
        model._meta.get_field(name)
    except FieldDoesNotExist:
        return False
    return True


def end_enrolment_grace(user: AbstractBaseUser) -> None:
    """The user enrolled: no grace period for them any more, whatever happens to the device."""
    EnrolmentGrace.objects.update_or_create(user_id=user.pk, defaults={"ended_at": timezone.now()})


@functools.cache
def required_by_callable(path: str) -> Callable[[AbstractBaseUser], bool]:
    """The function ``TOTP_REQUIRED_CALLABLE`` names; ``ImproperlyConfigured`` if it is none."""
    try:
        function = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(
            f"TOTP_REQUIRED_CALLABLE: {path!r} does not import ({error}). Fix the path, or set "
            "it to '' to rely on TOTP_REQUIRED_FOR alone."
        ) from error
    if not callable(function):
        raise ImproperlyConfigured(f"TOTP_REQUIRED_CALLABLE: {path!r} is not a function.")
    return cast("Callable[[AbstractBaseUser], bool]", function)


def may_manage(actor: AbstractBaseUser | AnonymousUser | None, user: AbstractBaseUser) -> bool:
    """Whether ``actor`` may reset or unlock ``user``'s two-factor authentication (R32).

    Only superusers act on superusers, so staff with device permissions cannot reset a
    superuser's devices or unlock them to guess again. ``actor`` is ``None`` for a management
    command (shell access is the trust it relies on); users may always act on themselves.
    """
    if actor is None or actor.pk == user.pk:
        return True
    return is_superuser(actor) or not is_superuser(user)


# The permissions of TOTPDevice that Django's admin asks for a reset (delete) and an unlock
# (change); every staff screen asks the same ones, through may_reset and may_unlock.
RESET_PERMISSION = "django_totp.delete_totpdevice"
UNLOCK_PERMISSION = "django_totp.change_totpdevice"


def may_reset(actor: AbstractBaseUser | AnonymousUser, user: AbstractBaseUser) -> bool:
    """Whether ``actor`` may reset ``user``'s 2FA from a staff screen other than Django's admin.

    The Django admin's rule: the permission to delete devices, and ``may_manage``. Screens
    still ask ``staff.staff_is_verified`` and ``staff.ask_staff_for_code`` of the session.
    """
    return _has_perm(actor, RESET_PERMISSION) and may_manage(actor, user)


def may_unlock(actor: AbstractBaseUser | AnonymousUser, user: AbstractBaseUser) -> bool:
    """Whether ``actor`` may unlock ``user``'s devices: the change permission, ``may_manage``."""
    return _has_perm(actor, UNLOCK_PERMISSION) and may_manage(actor, user)


def _has_perm(actor: AbstractBaseUser | AnonymousUser, permission: str) -> bool:
    has_perm = getattr(actor, "has_perm", None)  # user models without PermissionsMixin lack it
    return bool(actor.is_active and has_perm is not None and has_perm(permission))
