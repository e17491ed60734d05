"""Attacks of the security review of 2026-11-26: the roll-out on the project's own custom user
model (UUID pk, PermissionsMixin, no is_active field: AbstractBaseUser's class attribute).
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from django_totp import policy, reports

pytestmark = pytest.mark.django_db


# Failed before the fix: ModelBackend.with_perm filters on is_active, a field this model lacks;
# required_among (and so the admin's roll-out page and totp_status --rollout) raises
# FieldError, while enrolment_required answers (user.has_perm works: is_active is True).
@pytest.mark.parametrize("superuser", [False, True])
def test_the_report_works_with_required_permissions_on_a_model_without_is_active(
    settings, superuser
):
    settings.TOTP_REQUIRED_FOR = "nobody"
    settings.TOTP_REQUIRED_PERMISSIONS = ["auth.view_group"]
    users = get_user_model()._default_manager
    holder = users.create_user(email="holder@example.com", password="x")
    holder.user_permissions.add(Permission.objects.get(codename="view_group"))
    users.create_user(email="other@example.com", password="x", is_superuser=superuser)
    everyone = users.order_by("email")
    expected = [u.email for u in everyone if policy.enrolment_required(u)]
    assert "holder@example.com" in expected
    assert [u.email for u in policy.required_among(everyone)] == expected
    assert sorted(e.user.email for e in reports.rollout().users) == sorted(expected)
