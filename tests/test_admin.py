"""R7, R24: the device admin, used by a staff member who is himself verified."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import DELETION, LogEntry
from django.test import Client

from django_totp.models import TOTPDevice

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db
CHANGELIST = "/admin/django_totp/totpdevice/"


@pytest.fixture
def admin_client(staff_user, code_for) -> Client:
    client = Client()
    client.login(username=staff_user.username, password=PASSWORD)
    staff_device = make_device(staff_user)
    assert client.post("/2fa/verify/", {"code": code_for(staff_device)}).status_code == 302
    return client


def test_the_admin_is_closed_to_an_unverified_staff_session(staff_user):
    make_device(staff_user)
    client = Client()
    client.login(username=staff_user.username, password=PASSWORD)
    assert client.get(CHANGELIST)["Location"].startswith("/2fa/verify/")


def test_changelist_shows_state_but_never_the_secret(admin_client, device):
    html = admin_client.get(CHANGELIST).content.decode()
    assert "alice" in html
    assert device.secret not in html and device.encrypted_secret not in html
    change = admin_client.get(f"{CHANGELIST}{device.pk}/change/").content.decode()
    assert device.secret not in change and device.encrypted_secret not in change
    assert "encrypted_secret" not in change


def test_devices_cannot_be_added_from_the_admin(admin_client):
    assert admin_client.get(f"{CHANGELIST}add/").status_code == 403


def test_reset_asks_for_confirmation_first(admin_client, device):
    response = admin_client.post(
        CHANGELIST, {"action": "reset_two_factor", "_selected_action": [device.pk]}
    )
    assert response.status_code == 200
    assert "Yes, reset" in response.content.decode()
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_reset_removes_the_users_devices_logs_it_and_de_verifies_them(
    admin_client, user, device, code_for, staff_user
):
    victim = Client()
    victim.login(username=user.username, password=PASSWORD)
    victim.post("/2fa/verify/", {"code": code_for(device)})
    assert victim.get("/private/").content == b"private page"
    make_device(user, confirmed=False)

    response = admin_client.post(
        CHANGELIST,
        {"action": "reset_two_factor", "_selected_action": [device.pk], "confirmed": "yes"},
    )
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()
    entry = LogEntry.objects.get(object_id=str(device.pk))
    assert entry.user == staff_user and entry.action_flag == DELETION
    assert victim.get("/private/").status_code == 302


def test_unlock_clears_failures(admin_client, device):
    device.failure_count = 25
    device.save()
    admin_client.post(CHANGELIST, {"action": "unlock_devices", "_selected_action": [device.pk]})
    device.refresh_from_db()
    assert device.failure_count == 0
    assert LogEntry.objects.filter(object_id=str(device.pk)).exists()


def test_staff_without_delete_permission_cannot_reset(device, django_user_model, code_for):
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user(
        username="clerk", password=PASSWORD, is_staff=True
    )
    clerk.user_permissions.add(Permission.objects.get(codename="view_totpdevice"))
    clerk_device = make_device(clerk)
    client = Client()
    client.login(username="clerk", password=PASSWORD)
    client.post("/2fa/verify/", {"code": code_for(clerk_device)})
    client.post(
        CHANGELIST,
        {"action": "reset_two_factor", "_selected_action": [device.pk], "confirmed": "yes"},
    )
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_search_by_username(admin_client, device):
    assert "alice" in admin_client.get(f"{CHANGELIST}?q=alice").content.decode()


@pytest.mark.parametrize("action", ["reset_two_factor", "unlock_devices"])
def test_staff_without_their_own_verified_device_cannot_reset_or_unlock(staff_user, device, action):
    device.failure_count = 25
    device.save()
    client = Client()
    client.login(username=staff_user.username, password=PASSWORD)  # policy "nobody": no device
    response = client.post(
        CHANGELIST,
        {"action": action, "_selected_action": [device.pk], "confirmed": "yes"},
        follow=True,
    )
    assert "verify your own two-factor" in response.content.decode()
    device.refresh_from_db()
    assert device.failure_count == 25
