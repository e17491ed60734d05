from __future__ import annotations

import pytest
from django.core.management import call_command


@pytest.mark.django_db
def test_models_and_migrations_do_not_drift():
    call_command("makemigrations", "django_totp", "--check", "--dry-run", verbosity=0)
