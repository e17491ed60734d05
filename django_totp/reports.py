"""The roll-out report: who the enrolment policy covers and has not enrolled yet.

One function, ``rollout()``, for ``manage.py totp_status --rollout`` and the admin's
"Two-factor roll-out" page, so the two always agree.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ObjectDoesNotExist
from django.utils import timezone

from . import policy
from .conf import conf
from .models import EnrolmentGrace, TOTPDevice, WebAuthnCredential

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

# The group of covered users who belong to none, in the report by group.
NO_GROUP = "(no group)"


@dataclass(frozen=True)
class NotEnrolled:
    """A user the policy covers who has no confirmed device yet."""

    user: AbstractBaseUser
    groups: tuple[str, ...]
    # When the user's grace period ends; None when they must enrol at their next request (no
    # grace period, it is over, or it has not started: it starts at their next request).
    grace_ends: datetime.datetime | None
    grace_started: bool


@dataclass(frozen=True)
class Rollout:
    """The users ``policy.enrolment_required`` covers without a confirmed device, by pk."""

    users: list[NotEnrolled]
    grace_days: int

    @property
    def by_group(self) -> dict[str, list[NotEnrolled]]:
        """The users by group name (sorted; ``NO_GROUP`` for none): a user in two groups is in
        both."""
        groups: dict[str, list[NotEnrolled]] = {}
        for entry in self.users:
            for name in entry.groups or (NO_GROUP,):
                groups.setdefault(name, []).append(entry)
        return dict(sorted(groups.items()))

    def as_json(self) -> dict[str, Any]:
        """What ``totp_status --rollout --json`` prints under ``"rollout"``."""
        return {
            "covered_not_enrolled": len(self.users),
            "by_group": {name: len(users) for name, users in self.by_group.items()},
            "usernames": [str(entry.user.get_username()) for entry in self.users],
        }


def rollout() -> Rollout:
    """Who the policy covers and who has not enrolled yet, with their groups and grace end.

    A fixed number of queries whatever the number of users (the policy asked through
    ``policy.required_among``), except that ``TOTP_REQUIRED_CALLABLE`` is called once per user
    without a device whom the rest of the policy does not cover. Starts no grace period.
    """
    user_model = get_user_model()
    # A security key counts as enrolment, as an app does.
    apps = TOTPDevice.objects.confirmed().values("user_id")
    keys = WebAuthnCredential.objects.values("user_id")
    users = user_model._default_manager.exclude(pk__in=apps).exclude(pk__in=keys).order_by("pk")
    has_groups = policy.has_field(user_model, "groups")
    if has_groups:
        users = users.prefetch_related("groups")
    users = users.select_related("totp_enrolment_grace")
    now = timezone.now()
    found = []
    for user in policy.required_among(users):
        groups = tuple(group.name for group in user.groups.all()) if has_groups else ()
        grace = _grace_of(user)
        found.append(
            NotEnrolled(
                user=user,
                groups=tuple(sorted(groups)),
                grace_ends=policy.grace_ends(grace, now) if grace is not None else None,
                grace_started=grace is not None,
            )
        )
    return Rollout(users=found, grace_days=conf.TOTP_ENROLMENT_GRACE_DAYS)


def _grace_of(user: AbstractBaseUser) -> EnrolmentGrace | None:
    try:
        grace: EnrolmentGrace = user.totp_enrolment_grace  # type: ignore[attr-defined]
    except ObjectDoesNotExist:
        return None
    return grace
