from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_do_not_drift():
    call_command("makemigrations", "django_totp", "--check", "--dry-run", verbosity=0)


@pytest.mark.django_db(transaction=True)
def test_users_enrolled_before_grace_periods_existed_have_theirs_ended(user, staff_user):
    """0009: an ended grace period is "set up 2FA here once" to totp_import (R36)."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    before = [("django_totp", "0008_webauthn_credentials")]
    after = [("django_totp", "0009_enrolled_users_grace_ended")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    apps = executor.loader.project_state(before).apps
    device = apps.get_model("django_totp", "TOTPDevice")
    device.objects.create(user_id=user.pk, encrypted_secret="x", confirmed=True)
    device.objects.create(user_id=staff_user.pk, encrypted_secret="x", confirmed=False)
    executor = MigrationExecutor(connection)
    executor.migrate(after)
    grace = executor.loader.project_state(after).apps.get_model("django_totp", "EnrolmentGrace")
    assert list(grace.objects.exclude(ended_at=None).values_list("user_id", flat=True)) == [user.pk]
    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes("django_totp"))
