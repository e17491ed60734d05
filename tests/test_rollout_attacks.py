"""Attacks of the security review of 2026-11-26: the roll-out report vs enrolment_required.

``policy.required_among`` must name exactly the users ``policy.enrolment_required`` covers;
a user it leaves out is hidden from the admin's roll-out page and ``totp_status --rollout``.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.backends import BaseBackend, ModelBackend
from django.core.exceptions import PermissionDenied

from django_totp import policy, reports

pytestmark = pytest.mark.django_db

PERM = "auth.view_user"


class StaffDomainBackend(ModelBackend):
    """A common pattern: ModelBackend, plus a rule in has_perm (LDAP group, e-mail domain...).

    It inherits ``with_perm`` from ModelBackend, which knows nothing of the rule."""

    def has_perm(self, user_obj, perm, obj=None):
        if user_obj.is_active and user_obj.email.endswith("@corp.example"):
            return True
        return super().has_perm(user_obj, perm, obj)


class VetoBackend(BaseBackend):
    """Django's documented way for a backend to say "no, and ask nobody else"."""

    def has_perm(self, user_obj, perm, obj=None):
        if user_obj.username == "vetoed":
            raise PermissionDenied
        return False


def covered(users):
    return [u.username for u in users if policy.enrolment_required(u)]


# Failed before the fix: the batch form trusts an inherited with_perm that disagrees with has_perm.
def test_a_modelbackend_subclass_with_its_own_has_perm_is_not_hidden_from_the_report(
    django_user_model, settings
):
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.StaffDomainBackend"]
    settings.TOTP_REQUIRED_PERMISSIONS = [PERM]
    django_user_model.objects.create_user(username="carol", email="carol@corp.example")
    django_user_model.objects.create_user(username="guest", email="guest@else.example")
    users = django_user_model.objects.order_by("pk")
    assert covered(users) == ["carol"]  # the enforced rule
    assert [u.username for u in policy.required_among(users)] == ["carol"]
    assert [e.user.username for e in reports.rollout().users] == ["carol"]


# Failed before the fix: a backend raising PermissionDenied (documented by Django) crashed the
# report, while enrolment_required (user.has_perm) treats it as "no".
def test_a_backend_that_raises_permission_denied_does_not_crash_the_report(
    django_user_model, settings
):
    settings.AUTHENTICATION_BACKENDS = [
        f"{__name__}.VetoBackend",
        "django.contrib.auth.backends.ModelBackend",
    ]
    settings.TOTP_REQUIRED_PERMISSIONS = [PERM]
    django_user_model.objects.create_user(username="vetoed")
    django_user_model.objects.create_user(username="plain")
    users = django_user_model.objects.order_by("pk")
    assert covered(users) == []
    assert [u.username for u in policy.required_among(users)] == []


def _docs_user_model(*, with_is_superuser: bool):
    """Django's "full example" custom user: an is_admin field, is_staff a property."""
    from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
    from django.db import models

    attrs = {
        "email": models.EmailField(unique=True),
        "is_admin": models.BooleanField(default=False),
        "objects": BaseUserManager(),
        "USERNAME_FIELD": "email",
        "Meta": type("Meta", (), {"app_label": "tests"}),
        "__module__": __name__,
        "is_staff": property(lambda self: self.is_admin),
    }
    if with_is_superuser:
        attrs["is_superuser"] = property(lambda self: False)
    return type("MyUser", (AbstractBaseUser,), attrs)


def _with_table(model, body):
    from django.db import connection

    with connection.schema_editor() as editor:
        editor.create_model(model)
    try:
        model.objects.create(email="admin@example.com", is_admin=True)
        model.objects.create(email="user@example.com")
        body(model.objects.order_by("pk"))
    finally:
        with connection.schema_editor() as editor:
            editor.delete_model(model)


# Failed before the fix: with TOTP_REQUIRED_FOR="staff", the policy itself raises AttributeError for
# every user of Django's documented custom user model who is not an admin (it has no
# is_superuser): staff_flags() is a cast, not a reading with defaults. Each such request is a 500.
@pytest.mark.django_db(transaction=True)
def test_the_policy_does_not_crash_on_djangos_documented_custom_user(settings):
    from django.test.utils import isolate_apps

    settings.TOTP_REQUIRED_FOR = "staff"
    with isolate_apps("tests"):
        _with_table(
            _docs_user_model(with_is_superuser=False),
            lambda users: print([policy.enrolment_required(u) for u in users]),
        )


# Failed before the fix: the same model with is_superuser as a property too. Enforcement
# (staff_flags reads attributes) covers its admins; the batch form (has_field: fields only)
# does not, so the roll-out report hides every one of them.
@pytest.mark.django_db(transaction=True)
def test_staff_by_property_are_in_the_report_as_enforcement_covers_them(settings):
    from django.test.utils import isolate_apps

    settings.TOTP_REQUIRED_FOR = "staff"

    def check(users):
        assert [u.email for u in users if policy.enrolment_required(u)] == ["admin@example.com"]
        assert [u.email for u in policy.required_among(users)] == ["admin@example.com"]

    with isolate_apps("tests"):
        _with_table(_docs_user_model(with_is_superuser=True), check)
