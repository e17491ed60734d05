"""R7, R24: the device admin, used by a staff member who is himself verified."""

from __future__ import annotations

import pytest
from django.contrib.admin.models import CHANGE, DELETION, LogEntry
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from django_totp import services, signals
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
    entry = LogEntry.objects.get(content_type__model="totpdevice", object_id=str(device.pk))
    assert entry.user == staff_user and entry.action_flag == DELETION
    on_user = LogEntry.objects.get(content_type__model="user", object_id=str(user.pk))
    assert on_user.user == staff_user and on_user.action_flag == CHANGE
    assert victim.get("/private/").status_code == 302


def test_unlock_asks_for_confirmation_then_clears_failures(admin_client, device, staff_user):
    device.failure_count = 25
    device.save()
    selected = {"action": "unlock_devices", "_selected_action": [device.pk]}
    response = admin_client.post(CHANGELIST, selected)
    assert "Yes, unlock" in response.content.decode()
    device.refresh_from_db()
    assert device.failure_count == 25

    response = admin_client.post(CHANGELIST, {**selected, "confirmed": "yes"})
    assert response.status_code == 302
    device.refresh_from_db()
    assert device.failure_count == 0
    entry = LogEntry.objects.get(object_id=str(device.pk))
    assert entry.user == staff_user and entry.action_flag == CHANGE


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


@pytest.mark.parametrize("action", ["reset_two_factor", "unlock_devices"])
def test_a_staff_session_signed_in_by_a_remembered_browser_must_type_a_code_first(
    staff_user, device, code_for, settings, action
):
    # R28 for staff: the password and a remembered browser of a staff member do not reset or
    # unlock anyone's two-factor authentication without a code typed now.
    settings.TOTP_REMEMBER_DAYS = 30
    staff_device = make_device(staff_user)
    device.failure_count = 25
    device.save()
    client = Client()
    client.post("/login/", {"username": staff_user.username, "password": PASSWORD})
    client.post("/2fa/verify/", {"code": code_for(staff_device), "remember": "on"})
    client.post("/logout/")
    client.post("/login/", {"username": staff_user.username, "password": PASSWORD})
    assert client.get(CHANGELIST).status_code == 200  # the remembered browser signed in

    data = {"action": action, "_selected_action": [device.pk], "confirmed": "yes"}
    response = client.post(CHANGELIST, data)
    assert response.status_code == 302
    assert response["Location"].startswith("/2fa/verify/?next=")
    device.refresh_from_db()
    assert device.failure_count == 25

    client.post("/2fa/verify/", {"code": code_for(staff_device, offset=1)})
    client.post(CHANGELIST, data)
    assert not TOTPDevice.objects.filter(pk=device.pk, failure_count=25).exists()


# -- the device list: filters, search, queries --


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"open", "locked", "pending"}),
        ("?locked=yes", {"locked"}),
        ("?locked=no", {"open", "pending"}),
        ("?confirmed__exact=0", {"pending"}),
    ],
)
def test_the_list_filters_by_confirmed_and_locked(admin_client, user, settings, query, expected):
    settings.TOTP_MAX_FAILURES = 5
    make_device(user, name="open", failure_count=4)
    make_device(user, name="locked", failure_count=5)
    make_device(user, name="pending", confirmed=False)
    response = admin_client.get(CHANGELIST + query)
    shown = {d.name for d in response.context["cl"].result_list} - {"Authenticator app"}
    assert shown == expected


def test_the_locked_filter_follows_the_models_lock_rule(user, settings):
    settings.TOTP_MAX_FAILURES = 3
    devices = [make_device(user, failure_count=n) for n in range(6)]
    locked = set(TOTPDevice.objects.locked())
    assert locked == {d for d in devices if d.is_locked} and len(locked) == 3


def test_search_by_email(admin_client, device, django_user_model):
    other = django_user_model.objects.create_user(username="bob", email="bob@example.org")
    make_device(other)
    html = admin_client.get(f"{CHANGELIST}?q=alice@example").content.decode()
    assert "alice" in html and "bob" not in html


def test_the_list_makes_the_same_number_of_queries_for_1_and_30_devices(
    admin_client, django_user_model
):
    def queries_for_the_list() -> int:
        with CaptureQueriesContext(connection) as queries:
            response = admin_client.get(CHANGELIST)
        assert response.status_code == 200
        return len(queries)

    owners = [django_user_model.objects.create_user(username=f"u{n}") for n in range(30)]
    make_device(owners[0])
    one = queries_for_the_list()
    for owner in owners[1:]:
        make_device(owner)
    assert queries_for_the_list() == one


def test_the_change_page_never_shows_the_secret_even_to_a_superuser(admin_client, device):
    response = admin_client.get(f"{CHANGELIST}{device.pk}/change/")
    assert response.status_code == 200 and response.context["request"].user.is_superuser
    html = response.content.decode()
    assert device.secret not in html and device.encrypted_secret not in html


# -- the 2FA panel on the user's own admin page --


def user_page(user) -> str:
    return f"/admin/auth/user/{user.pk}/change/"


def panel_url(user, operation: str) -> str:
    return f"{CHANGELIST}user/{user.pk}/{operation}/"


def test_the_user_page_shows_the_panel_and_never_a_secret(admin_client, user, settings):
    settings.TOTP_MAX_FAILURES = 5
    phone = make_device(user, name="Phone", failure_count=5)
    make_device(user, name="Tablet", confirmed=False)
    response = admin_client.get(user_page(user))
    html = response.content.decode()
    assert "Two-factor authentication" in html and 'id="totp-user-panel"' in html
    assert "Phone" in html and "Tablet" in html
    assert panel_url(user, "reset") in html and panel_url(user, "unlock") in html
    assert "0 recovery codes left." in html
    for device in TOTPDevice.objects.filter(user=user):
        assert device.secret not in html and device.encrypted_secret not in html
    assert "encrypted_secret" not in html
    assert phone.is_locked


def test_the_user_page_makes_the_same_number_of_queries_for_1_and_10_devices(admin_client, user):
    def queries_for_the_page() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(user_page(user)).status_code == 200
        return len(queries)

    make_device(user)
    one = queries_for_the_page()
    for _ in range(9):
        make_device(user)
    assert queries_for_the_page() == one


def test_the_panel_is_added_to_djangos_own_user_admin_without_replacing_it():
    from django.contrib import admin
    from django.contrib.auth.admin import UserAdmin
    from django.contrib.auth.models import User

    from django_totp.admin import TOTPDeviceInline

    registered = admin.site._registry[User]
    assert type(registered) is UserAdmin
    assert TOTPDeviceInline in registered.inlines
    assert TOTPDeviceInline not in UserAdmin.inlines  # the class itself is untouched


def test_attaching_the_panel_is_idempotent_and_keeps_a_hand_added_one():
    from django.contrib import admin
    from django.contrib.auth.models import User

    from django_totp.admin import TOTPDeviceInline, attach_user_panel

    class SitePanel(TOTPDeviceInline):
        pass

    class SiteUserAdmin(admin.ModelAdmin):
        inlines = [SitePanel]

    site = admin.AdminSite(name="other")
    assert attach_user_panel(site) is False
    site.register(User, SiteUserAdmin)
    assert attach_user_panel(site) and attach_user_panel(site)
    assert site._registry[User].inlines == [SitePanel]

    plain = admin.AdminSite(name="plain")
    plain.register(User)
    attach_user_panel(plain)
    attach_user_panel(plain)
    assert plain._registry[User].inlines == [TOTPDeviceInline]


def test_a_user_without_devices_gets_a_panel_without_buttons(admin_client, user):
    html = admin_client.get(user_page(user)).content.decode()
    assert "has not set up two-factor authentication" in html
    assert panel_url(user, "reset") not in html and panel_url(user, "unlock") not in html
    response = admin_client.get(panel_url(user, "reset"), follow=True)
    assert "has no two-factor devices" in response.content.decode()
    response = admin_client.get(panel_url(user, "unlock"), follow=True)
    assert "No device of this user has failed attempts" in response.content.decode()


def test_the_add_user_page_has_no_panel_and_still_adds_users(admin_client, django_user_model):
    html = admin_client.get("/admin/auth/user/add/").content.decode()
    assert 'id="totp-user-panel"' not in html
    assert 'name="totp_devices-TOTAL_FORMS"' in html  # Django needs it to save the new user
    password = "a long and unusual passphrase 7"
    management = {f"totp_devices-{k}": "0" for k in ("TOTAL_FORMS", "INITIAL_FORMS")}
    response = admin_client.post(
        "/admin/auth/user/add/",
        {
            "username": "newcomer",
            "password1": password,
            "password2": password,
            "usable_password": "true",
            **management,
        },
    )
    assert response.status_code == 302
    assert django_user_model.objects.filter(username="newcomer").exists()


def test_panel_reset_shows_a_confirmation_page_and_changes_nothing_on_get(
    admin_client, user, device
):
    response = admin_client.get(panel_url(user, "reset"))
    html = response.content.decode()
    assert response.status_code == 200 and "Yes, reset" in html
    assert f'href="{user_page(user)}"' in html  # "No, take me back"
    assert 'name="action"' not in html
    assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_panel_reset_posts_resets_logs_and_returns_to_the_user_page(
    admin_client, user, device, staff_user, receive
):
    reset = receive(signals.devices_reset)
    response = admin_client.post(panel_url(user, "reset"), {"confirmed": "yes"})
    assert response.status_code == 302 and response["Location"] == user_page(user)
    assert not TOTPDevice.objects.filter(user=user).exists()
    assert reset[0]["actor"] == staff_user and reset[0]["user"] == user
    entries = LogEntry.objects.filter(user=staff_user)
    assert {(e.content_type.model, e.object_id, e.action_flag) for e in entries} == {
        ("totpdevice", str(device.pk), DELETION),
        ("user", str(user.pk), CHANGE),
    }


def test_panel_unlock_confirms_then_clears_the_failures(admin_client, user, staff_user, settings):
    settings.TOTP_MAX_FAILURES = 5
    locked = make_device(user, name="Phone", failure_count=5)
    make_device(user, name="Spare")
    assert "Yes, unlock" in admin_client.get(panel_url(user, "unlock")).content.decode()
    locked.refresh_from_db()
    assert locked.is_locked
    response = admin_client.post(panel_url(user, "unlock"), {"confirmed": "yes"}, follow=True)
    assert "1 device unlocked." in response.content.decode()
    locked.refresh_from_db()
    assert locked.failure_count == 0
    entry = LogEntry.objects.get(content_type__model="totpdevice")
    assert entry.object_id == str(locked.pk) and entry.user == staff_user


def test_panel_buttons_need_the_device_permissions(user, device, django_user_model, code_for):
    from django.contrib.auth.models import Permission

    device.failure_count = 3
    device.save()
    clerk = django_user_model.objects.create_user(
        username="clerk", password=PASSWORD, is_staff=True
    )
    clerk.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user", "view_totpdevice"])
    )
    client = Client()
    client.login(username="clerk", password=PASSWORD)
    client.post("/2fa/verify/", {"code": code_for(make_device(clerk))})
    html = client.get(user_page(user)).content.decode()
    assert 'id="totp-user-panel"' in html
    assert panel_url(user, "reset") not in html and panel_url(user, "unlock") not in html
    for operation in ("reset", "unlock"):
        assert client.get(panel_url(user, operation)).status_code == 403
        assert client.post(panel_url(user, operation), {"confirmed": "yes"}).status_code == 403
    device.refresh_from_db()
    assert device.failure_count == 3


def test_panel_hidden_from_staff_who_may_not_view_devices(user, device, django_user_model):
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user(
        username="clerk", password=PASSWORD, is_staff=True
    )
    clerk.user_permissions.add(*Permission.objects.filter(codename__in=["view_user"]))
    client = Client()
    client.login(username="clerk", password=PASSWORD)  # policy "nobody", no device
    html = client.get(user_page(user)).content.decode()
    assert "Username" in html and 'id="totp-user-panel"' not in html


@pytest.mark.parametrize("operation", ["reset", "unlock"])
def test_panel_refuses_staff_without_their_own_verified_device(staff_user, user, device, operation):
    device.failure_count = 3
    device.save()
    client = Client()
    client.login(username=staff_user.username, password=PASSWORD)  # policy "nobody": no device
    response = client.post(panel_url(user, operation), {"confirmed": "yes"}, follow=True)
    assert "verify your own two-factor" in response.content.decode()
    device.refresh_from_db()
    assert device.failure_count == 3


@pytest.mark.parametrize("pk", ["999999", "not-a-number"])
def test_panel_answers_404_for_an_unknown_user(admin_client, pk):
    assert admin_client.get(f"{CHANGELIST}user/{pk}/reset/").status_code == 404


def test_saving_the_user_page_leaves_the_devices_alone(admin_client, user, device):
    page = admin_client.get(user_page(user))
    formset = page.context["inline_admin_formsets"][0].formset
    prefix = formset.prefix
    data = {
        "username": user.username,
        "email": "new@example.com",
        "is_active": "on",
        "date_joined_0": "2024-01-01",
        "date_joined_1": "00:00:00",
        f"{prefix}-TOTAL_FORMS": "1",
        f"{prefix}-INITIAL_FORMS": "1",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
        f"{prefix}-0-id": str(device.pk),
        f"{prefix}-0-user": str(user.pk),
    }
    response = admin_client.post(user_page(user), data)
    assert response.status_code == 302, response.context["errors"]
    user.refresh_from_db()
    assert user.email == "new@example.com"
    before = device.encrypted_secret
    device.refresh_from_db()
    assert device.encrypted_secret == before and device.confirmed


def test_without_a_registered_user_admin_the_panel_returns_to_the_device_list(user):
    from django.contrib.admin import AdminSite
    from django.contrib.auth.models import User

    from django_totp.admin import _has_field, user_change_url

    assert user_change_url(AdminSite(name="bare"), user) is None
    assert _has_field(User, "email") and not _has_field(User, "phone")


def test_the_panel_counts_the_users_unused_recovery_codes(admin_client, user, recovery_codes):
    services.verify_recovery_code(user, recovery_codes[0])
    assert "9 recovery codes left." in admin_client.get(user_page(user)).content.decode()


def test_the_panel_unlocks_recovery_codes_locked_by_wrong_guesses(
    admin_client, user, recovery_codes, settings
):
    settings.TOTP_THROTTLE_FACTOR = 0
    settings.TOTP_MAX_FAILURES = 2
    for _ in range(2):
        services.verify_recovery_code(user, "zzzz-zzzz-zzzz")
    assert services.verify_recovery_code(user, recovery_codes[0]).outcome == "locked"
    html = admin_client.get(user_page(user)).content.decode()
    assert panel_url(user, "unlock") in html
    admin_client.post(panel_url(user, "unlock"), {"confirmed": "yes"})
    assert services.verify_recovery_code(user, recovery_codes[0]).accepted


# -- R32: every removal goes through the reset flow; only superusers act on superusers --


def test_the_generic_bulk_delete_cannot_remove_devices(admin_client, user, device, receive):
    reset = receive(signals.devices_reset)
    response = admin_client.post(
        CHANGELIST, {"action": "delete_selected", "_selected_action": [device.pk], "post": "yes"}
    )
    assert response.status_code in (200, 302)
    assert TOTPDevice.objects.filter(pk=device.pk).exists() and reset == []
    page = admin_client.get(CHANGELIST).content.decode()
    assert 'value="delete_selected"' not in page and 'value="reset_two_factor"' in page


def test_the_device_delete_page_cannot_remove_devices(admin_client, user, device):
    delete_url = f"{CHANGELIST}{device.pk}/delete/"
    assert admin_client.get(delete_url).status_code == 403
    assert admin_client.post(delete_url, {"post": "yes"}).status_code == 403
    assert TOTPDevice.objects.filter(pk=device.pk).exists()
    change = admin_client.get(f"{CHANGELIST}{device.pk}/change/").content.decode()
    assert delete_url not in change


def test_deleting_the_user_still_removes_their_devices(admin_client, user, device):
    response = admin_client.post(f"/admin/auth/user/{user.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()


@pytest.fixture
def clerk_client(django_user_model, code_for) -> Client:
    """A verified staff member, not a superuser, with every device and user permission."""
    from django.contrib.auth.models import Permission

    clerk = django_user_model.objects.create_user(
        username="clerk", password=PASSWORD, is_staff=True
    )
    clerk.user_permissions.add(
        *Permission.objects.filter(content_type__app_label__in=["django_totp", "auth"])
    )
    client = Client()
    client.login(username="clerk", password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(make_device(clerk))}).status_code == 302
    return client


@pytest.fixture
def root(django_user_model):
    return django_user_model.objects.create_user(
        username="root",
        email="root@example.com",
        password=PASSWORD,
        is_staff=True,
        is_superuser=True,
    )


def test_staff_cannot_unlock_a_superusers_device_again_and_again(
    clerk_client, root, settings, receive
):
    settings.TOTP_MAX_FAILURES = 5
    locked = make_device(root, failure_count=5)
    unlocked = receive(signals.device_unlocked)
    clerk_client.post(
        CHANGELIST,
        {"action": "unlock_devices", "_selected_action": [locked.pk], "confirmed": "yes"},
    )
    assert clerk_client.post(panel_url(root, "unlock"), {"confirmed": "yes"}).status_code == 403
    assert clerk_client.get(panel_url(root, "unlock")).status_code == 403
    locked.refresh_from_db()
    assert locked.failure_count == 5 and unlocked == []
    html = clerk_client.get(user_page(root)).content.decode()
    assert panel_url(root, "unlock") not in html and panel_url(root, "reset") not in html


def test_staff_cannot_reset_a_superusers_devices(clerk_client, root, receive):
    phone = make_device(root)
    reset = receive(signals.devices_reset)
    clerk_client.post(
        CHANGELIST,
        {"action": "reset_two_factor", "_selected_action": [phone.pk], "confirmed": "yes"},
    )
    assert clerk_client.post(panel_url(root, "reset"), {"confirmed": "yes"}).status_code == 403
    assert clerk_client.post(f"{CHANGELIST}{phone.pk}/delete/", {"post": "yes"}).status_code == 403
    clerk_client.post(f"/admin/auth/user/{root.pk}/delete/", {"post": "yes"})
    assert TOTPDevice.objects.filter(pk=phone.pk).exists() and reset == []


def test_a_mixed_selection_with_a_superuser_changes_nobody(clerk_client, root, user, device):
    phone = make_device(root)
    response = clerk_client.post(
        CHANGELIST,
        {
            "action": "reset_two_factor",
            "_selected_action": [phone.pk, device.pk],
            "confirmed": "yes",
        },
        follow=True,
    )
    assert "Only superusers" in response.content.decode()
    assert TOTPDevice.objects.filter(pk__in=[phone.pk, device.pk]).count() == 2


def test_staff_still_reset_and_unlock_ordinary_users(clerk_client, user, device):
    device.failure_count = 3
    device.save()
    assert clerk_client.post(panel_url(user, "unlock"), {"confirmed": "yes"}).status_code == 302
    device.refresh_from_db()
    assert device.failure_count == 0
    assert clerk_client.post(panel_url(user, "reset"), {"confirmed": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=user).exists()


def test_superusers_act_on_superusers(admin_client, root, settings):
    settings.TOTP_MAX_FAILURES = 5
    locked = make_device(root, failure_count=5)
    assert admin_client.post(panel_url(root, "unlock"), {"confirmed": "yes"}).status_code == 302
    locked.refresh_from_db()
    assert locked.failure_count == 0
    assert admin_client.post(panel_url(root, "reset"), {"confirmed": "yes"}).status_code == 302
    assert not TOTPDevice.objects.filter(user=root).exists()
