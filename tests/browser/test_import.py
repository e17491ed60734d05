"""Switching from django-otp and django-two-factor-auth: a user of the old package signs in with
the app or the security key they already had, in Chromium, after ``totp_import`` ran on the
demo's database (R36).

The old packages are not installed: their tables are made the way django-otp 1.7 and
django-two-factor-auth 1.18 make them on SQLite, as they are left behind once the package is
removed. The key is Chromium's virtual authenticator, holding the private key of the credential
the old site registered.
"""

from __future__ import annotations

import base64
import secrets

from cryptography.hazmat.primitives import serialization

from ..authenticator import SoftAuthenticator, b64url
from .flow import PASSWORD, Account, Flow, OtpAuth, Viewport
from .server import DemoServer
from .test_webauthn import USB_KEY, VirtualKey, sign_in_with_password, use_key

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


LEFT_BY_TWO_FACTOR = """
import os
from django.contrib.auth import get_user_model
from django.db import connection
from django.utils import timezone

user = get_user_model().objects.create_user(os.environ["NAME"], password=os.environ["PASSWORD"])
with connection.cursor() as cursor:
    cursor.execute(
        'CREATE TABLE IF NOT EXISTS "two_factor_webauthn_webauthndevice" ("id" integer NOT NULL '
        'PRIMARY KEY AUTOINCREMENT, "name" varchar(64) NOT NULL, "confirmed" bool NOT NULL, '
        '"throttling_failure_timestamp" datetime NULL, "throttling_failure_count" integer '
        'unsigned NOT NULL, "user_id" integer NOT NULL, "created_at" datetime NOT NULL, '
        '"last_used_at" datetime NULL, "public_key" text NOT NULL, "key_handle" text NOT NULL, '
        '"sign_count" integer NOT NULL)'
    )
    cursor.execute(
        'INSERT INTO "two_factor_webauthn_webauthndevice" ("name", "confirmed", '
        '"throttling_failure_count", "user_id", "created_at", "public_key", "key_handle", '
        '"sign_count") VALUES (%s, 1, 0, %s, %s, %s, %s, %s)',
        [
            "default",
            user.pk,
            timezone.now().isoformat(),
            os.environ["PUBLIC_KEY"],
            os.environ["KEY_HANDLE"],
            int(os.environ["SIGN_COUNT"]),
        ],
    )
"""


def test_an_imported_user_signs_in_with_their_old_security_key(
    key_flow: Flow, key_demo: DemoServer, viewport: Viewport
):
    """Registered at django-two-factor-auth for the same RP ID (localhost), which its plugin
    did not record: the operator names it with --rp-id."""
    flow = key_flow
    old = SoftAuthenticator(counter=7)
    name = f"switched-key-{viewport.name}"
    env = {
        "NAME": name,
        "PASSWORD": PASSWORD,
        "PUBLIC_KEY": b64url(old.cose_public_key()),
        "KEY_HANDLE": b64url(old.credential_id),
        "SIGN_COUNT": str(old.counter),
    }
    key_demo.manage("shell", "--no-imports", "-c", LEFT_BY_TWO_FACTOR, env=env)
    source = ("totp_import", "--from", "two-factor", "--user", name)
    assert "rp_id_unknown" in key_demo.manage(*source)
    report = key_demo.manage(*source, "--rp-id", "localhost")
    assert "imported devices for 1" in report
    key = VirtualKey(flow.page, **USB_KEY)
    private_key = old.key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    credential = {
        "credentialId": base64.b64encode(old.credential_id).decode(),
        "isResidentCredential": False,
        "rpId": "localhost",
        "privateKey": base64.b64encode(private_key).decode(),
        "signCount": old.counter,
    }
    key.cdp.send("WebAuthn.addCredential", {"authenticatorId": key.id, "credential": credential})
    account = Account(username=name)
    sign_in_with_password(flow, account)
    use_key(flow)
    flow.expect_account_page(account)
    (used,) = key.credentials()
    assert used["signCount"] > old.counter
