"""The 2FA panel, device search and commands with a custom user model (e-mail, UUID key)."""

from __future__ import annotations

import io
import time

import pytest
from django.contrib import admin
from django.contrib.admin.models import CHANGE, LogEntry
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client

from django_totp import oath
from django_totp.admin import TOTPDeviceInline
from django_totp.models import TOTPDevice
from tests.conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db


def code(device: TOTPDevice) -> str:
    return oath.code_at_step(device.secret, oath.time_step(time.time(), device.period))


@pytest.fixture
def member():
    return get_user_model().objects.create_user("member@example.com", PASSWORD)


@pytest.fixture
def admin_client():
    staff = get_user_model().objects.create_user(
        "staff@example.com", PASSWORD, is_staff=True, is_superuser=True
    )
    client = Client()
    client.login(username="staff@example.com", password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code(make_device(staff))}).status_code == 302
    client.staff = staff
    return client


def test_the_sites_own_user_admin_gets_the_panel():
    registered = admin.site._registry[get_user_model()]
    assert TOTPDeviceInline in registered.inlines


def test_the_user_page_shows_the_panel_and_resets_through_it(admin_client, member):
    device = make_device(member, name="Phone", failure_count=3)
    page = f"/admin/custom_user/emailuser/{member.pk}/change/"
    html = admin_client.get(page).content.decode()
    reset_url = f"/admin/django_totp/totpdevice/user/{member.pk}/reset/"
    assert 'id="totp-user-panel"' in html and "Phone" in html and reset_url in html
    assert device.secret not in html and device.encrypted_secret not in html

    assert "Yes, reset" in admin_client.get(reset_url).content.decode()
    response = admin_client.post(reset_url, {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == page
    assert not TOTPDevice.objects.filter(user=member).exists()
    entry = LogEntry.objects.get(content_type__model="emailuser")
    assert entry.object_id == str(member.pk) and entry.action_flag == CHANGE
    assert entry.user_id == admin_client.staff.pk


def test_the_device_list_searches_by_email(admin_client, member):
    make_device(member)
    html = admin_client.get("/admin/django_totp/totpdevice/?q=member@").content.decode()
    assert "member@example.com" in html


def test_commands_find_users_by_their_username_field(member):
    make_device(member, failure_count=2)
    out = io.StringIO()
    call_command("totp_unlock", "member@example.com", stdout=out)
    assert "Cleared the failed attempts of 1 device(s)." in out.getvalue()
    call_command("totp_reset", "member@example.com", stdout=out)
    assert not TOTPDevice.objects.filter(user=member).exists()
    with pytest.raises(CommandError, match="No user with email 'member'"):
        call_command("totp_reset", "member", stdout=out)
