"""``totp_import`` on a site whose database holds no source tables (R36)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("source", ["django-otp", "two-factor"])
def test_a_site_without_the_source_tables_is_told_so(source):
    with pytest.raises(CommandError, match="No otp_totp_totpdevice table"):
        call_command("totp_import", "--from", source)


def test_an_unknown_source_is_refused():
    with pytest.raises(CommandError, match="invalid choice"):
        call_command("totp_import", "--from", "django-mfa2")
