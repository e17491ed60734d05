"""Users who had a device before ``EnrolmentGrace`` existed (migration 0005) enrolled then.

Their grace period ended when they enrolled; ``totp_import`` reads an ended grace period as
"set up 2FA here once", so that a reset or turned-off 2FA here is never undone by an import.
"""

from django.db import migrations
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps
from django.utils import timezone


def end_grace_of_enrolled_users(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    grace = apps.get_model("django_totp", "EnrolmentGrace")
    devices = apps.get_model("django_totp", "TOTPDevice")
    keys = apps.get_model("django_totp", "WebAuthnCredential")
    enrolled = set(devices.objects.filter(confirmed=True).values_list("user_id", flat=True))
    enrolled |= set(keys.objects.values_list("user_id", flat=True))
    ended = set(grace.objects.exclude(ended_at=None).values_list("user_id", flat=True))
    for user_id in enrolled - ended:
        first = devices.objects.filter(user_id=user_id, confirmed=True).order_by("pk").first()
        when = (first.confirmed_at or first.created_at) if first else timezone.now()
        grace.objects.update_or_create(user_id=user_id, defaults={"ended_at": when})


class Migration(migrations.Migration):
    dependencies = [("django_totp", "0008_webauthn_credentials")]

    operations = [migrations.RunPython(end_grace_of_enrolled_users, migrations.RunPython.noop)]
