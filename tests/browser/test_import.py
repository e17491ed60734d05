"""Switching from django-otp: a user of the old package signs in with the app they already
had, in Chromium, after ``totp_import`` ran on the demo's database (R36).

The old package is not installed: its table is made the way django-otp 1.7 makes it on SQLite,
as it is left behind once the package is removed.
"""

from __future__ import annotations

import base64
import secrets

from .flow import PASSWORD, Account, Flow, OtpAuth, Viewport
from .server import DemoServer

LEFT_BY_DJANGO_OTP = """
import os
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

user = get_user_model().objects.create_user(os.environ["NAME"], password=os.environ["PASSWORD"])
with connection.cursor() as cursor:
    cursor.execute(
        'CREATE TABLE IF NOT EXISTS "otp_totp_totpdevice" ("id" integer NOT NULL PRIMARY KEY '
        'AUTOINCREMENT, "name" varchar(64) NOT NULL, "confirmed" bool NOT NULL, "key" '
        'varchar(80) NOT NULL, "step" smallint unsigned NOT NULL, "t0" bigint NOT NULL, '
        '"digits" smallint unsigned NOT NULL, "tolerance" smallint unsigned NOT NULL, "drift" '
        'smallint NOT NULL, "last_t" bigint NOT NULL, "user_id" integer NOT NULL, '
        '"throttling_failure_count" integer unsigned NOT NULL, "throttling_failure_timestamp" '
        'datetime NULL, "created_at" datetime NULL, "last_used_at" datetime NULL)'
    )
    cursor.execute(
        'INSERT INTO "otp_totp_totpdevice" ("name", "confirmed", "key", "step", "t0", "digits", '
        '"tolerance", "drift", "last_t", "user_id", "throttling_failure_count", "created_at") '
        "VALUES ('Phone', 1, %s, 30, 0, 6, 1, 0, -1, %s, 0, %s)",
        [os.environ["KEY"], user.pk, timezone.now().isoformat()],
    )
"""


def test_an_imported_user_signs_in_with_their_old_app(
    flow: Flow, demo: DemoServer, viewport: Viewport
):
    key = secrets.token_bytes(20)
    name = f"switched-{viewport.name}"
    env = {"NAME": name, "PASSWORD": PASSWORD, "KEY": key.hex()}
    demo.manage("shell", "--no-imports", "-c", LEFT_BY_DJANGO_OTP, env=env)
    report = demo.manage("totp_import", "--from", "django-otp", "--user", name)
    assert "imported devices for 1" in report and key.hex() not in report
    secret = base64.b32encode(key).decode()
    app = OtpAuth(
        uri="", issuer="", account=name, secret=secret, digits=6, period=30, algorithm="SHA1"
    )
    account = Account(username=name, key=app)
    flow.sign_in(account)
    flow.enter_next_code(account)
    flow.expect_account_page(account)
