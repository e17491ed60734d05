# The shared fixtures are imported from the modules that define them (as test_webauthn_devices
# does), so this module's tests take them as parameters of the same names.
# ruff: noqa: F811
"""W6, R7, R32: security keys in the device admin, beside the apps, read-only.

A key is listed and shown without its public key or credential id; it is never added there,
and it goes only with its owner's reset, as an app does: the staff member verified, a
confirmation, the sessions it verified ended, the owner told, the admin log kept.
"""

from __future__ import annotations

import base64

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.contrib.auth.models import Permission
from django.core import mail
from django.test import Client

from django_totp.models import WebAuthnCredential

from .authenticator import SoftAuthenticator
from .conftest import PASSWORD, make_device, owner_request
from .test_admin import admin_client, clerk_client, root  # noqa: F401
from .test_webauthn import register, webauthn_on  # noqa: F401
from .test_webauthn_devices import alive, credential, key, key_session  # noqa: F401

pytestmark = pytest.mark.django_db
KEYS = "/admin/django_totp/webauthncredential/"


def reset(client: Client, *keys: WebAuthnCredential, confirmed: bool = True):
    data = {"action": "reset_two_factor", "_selected_action": [k.pk for k in keys]}
    return client.post(KEYS, {**data, "confirmed": "yes"} if confirmed else data)


def secrets_of(key: WebAuthnCredential) -> list[str]:
    raw = bytes(key.credential_id)
    public = bytes(key.public_key)
    return [
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
        raw.hex(),
        public.hex(),
        base64.urlsafe_b64encode(public).decode().rstrip("="),
        base64.b64encode(public).decode(),
        key.credential_id_hash,
    ]


def test_the_admin_lists_keys_without_their_public_key_or_id(admin_client, user, key):
    stored = credential(user)
    listing = admin_client.get(KEYS).content.decode()
    assert "Blue key" in listing and user.username in listing
    assert stored.credential_id_hash[:8] in listing  # enough to tell keys apart
    page = admin_client.get(f"{KEYS}{stored.pk}/change/")
    assert page.status_code == 200
    for shown in (listing, page.content.decode()):
        for secret in secrets_of(stored):
            assert secret not in shown
        assert "public_key" not in shown and "last_challenge" not in shown


def test_the_admin_index_shows_apps_and_keys(admin_client):
    index = admin_client.get("/admin/").content.decode()
    assert "/admin/django_totp/totpdevice/" in index and KEYS in index


def test_keys_cannot_be_added_changed_or_deleted_one_by_one(admin_client, user, key, receive):
    stored = credential(user)
    assert admin_client.get(f"{KEYS}add/").status_code == 403
    page = admin_client.get(f"{KEYS}{stored.pk}/change/").content.decode()
    assert 'name="_save"' not in page and "/delete/" not in page
    renamed = admin_client.post(f"{KEYS}{stored.pk}/change/", {"name": "Mine now"})
    assert renamed.status_code == 403
    assert admin_client.get(f"{KEYS}{stored.pk}/delete/").status_code == 403
    assert admin_client.post(f"{KEYS}{stored.pk}/delete/", {"post": "yes"}).status_code == 403
    admin_client.post(
        KEYS, {"action": "delete_selected", "_selected_action": [stored.pk], "post": "yes"}
    )
    assert WebAuthnCredential.objects.get(pk=stored.pk).name == "Blue key"


def test_removing_a_key_is_its_owners_reset_and_ends_the_sessions_it_verified(
    admin_client, user, key, staff_user, django_capture_on_commit_callbacks, settings
):
    settings.TOTP_NOTIFY_BY_EMAIL = True
    by_key = key_session(user, key)
    stored = credential(user)
    asked = reset(admin_client, stored, confirmed=False)
    assert asked.status_code == 200 and "Yes, reset" in asked.content.decode()
    assert alive(by_key) and WebAuthnCredential.objects.filter(pk=stored.pk).exists()

    with django_capture_on_commit_callbacks(execute=True):
        response = reset(admin_client, stored)
    assert response.status_code == 302 and response["Location"] == KEYS
    assert not WebAuthnCredential.objects.filter(user=user).exists()
    assert not alive(by_key)
    entry = LogEntry.objects.get(content_type__model="webauthncredential")
    assert entry.object_id == str(stored.pk) and entry.action_flag == DELETION
    assert entry.user == staff_user
    # A key-only user is told, as an app user is (failed before: no notice without an app).
    (notice,) = mail.outbox
    assert notice.to == [user.email] and "was reset" in notice.subject


def test_the_reset_asks_the_staff_members_own_code_first(user, key, django_user_model):
    staff = django_user_model.objects.create_user(
        username="boss", password=PASSWORD, is_staff=True, is_superuser=True
    )
    make_device(staff)
    client = Client()
    client.login(username="boss", password=PASSWORD)
    response = reset(client, credential(user))
    assert response["Location"].startswith("/2fa/verify/")
    assert WebAuthnCredential.objects.filter(user=user).exists()


def staff_with(django_user_model, code_for, *codenames: str) -> Client:
    clerk = django_user_model.objects.create_user(
        username="viewer", password=PASSWORD, is_staff=True
    )
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.login(username="viewer", password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(make_device(clerk))}).status_code == 302
    return client


def test_staff_without_the_keys_view_permission_see_no_keys(user, key, django_user_model, code_for):
    client = staff_with(django_user_model, code_for, "view_totpdevice")
    assert client.get(KEYS).status_code == 403


def test_staff_who_may_only_view_keys_cannot_remove_them(user, key, django_user_model, code_for):
    client = staff_with(django_user_model, code_for, "view_webauthncredential")
    listing = client.get(KEYS)
    assert listing.status_code == 200 and "Blue key" in listing.content.decode()
    reset(client, credential(user))
    assert WebAuthnCredential.objects.filter(user=user).exists()


def test_staff_cannot_remove_a_superusers_key(clerk_client, root):
    assert register(owner_request(root), SoftAuthenticator(), name="Root key").accepted
    response = reset(clerk_client, credential(root))
    assert response.status_code == 302
    assert WebAuthnCredential.objects.filter(user=root).exists()


def test_deleting_the_user_still_removes_their_keys(admin_client, user, key):
    response = admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not WebAuthnCredential.objects.exists()
