"""The roll-out report (issue 13): who the policy covers and has not enrolled, in the admin.

``reports.rollout`` is the one function behind the admin's "Two-factor roll-out" page and
``manage.py totp_status --rollout`` (whose JSON ``tests/test_policy.py`` pins).
"""

from __future__ import annotations

import datetime
import json
import re
from io import StringIO

import pytest
import time_machine
from django.contrib.auth.models import Group, Permission
from django.core.management import call_command
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.formats import date_format

from django_totp import admin as totp_admin
from django_totp import policy, reports
from django_totp.models import EnrolmentGrace

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db
ROLLOUT = "/admin/django_totp/totpdevice/rollout/"
NOW = datetime.datetime(2026, 11, 26, 12, 0, tzinfo=datetime.UTC)


def staff_client(django_user_model, code_for, username: str, *codenames: str) -> Client:
    """A verified staff member (not a superuser) holding ``codenames``."""
    staff = django_user_model.objects.create_user(
        username=username, password=PASSWORD, is_staff=True
    )
    staff.user_permissions.add(*Permission.objects.filter(codename__in=codenames))
    client = Client()
    client.login(username=username, password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(make_device(staff))}).status_code == 302
    return client


@pytest.fixture
def viewer(django_user_model, code_for) -> Client:
    return staff_client(django_user_model, code_for, "viewer", "view_totpdevice")


@pytest.fixture
def covered(django_user_model, settings):
    """Editors (by group) and a staff member without devices; one enrolled; one not covered."""
    settings.TOTP_REQUIRED_FOR = "staff"
    settings.TOTP_REQUIRED_GROUPS = ["Editors"]
    settings.TOTP_ENROLMENT_GRACE_DAYS = 14
    editors = Group.objects.create(name="Editors")
    writers = Group.objects.create(name="Writers")
    ed = django_user_model.objects.create_user(username="ed")
    ed.groups.add(editors, writers)
    eve = django_user_model.objects.create_user(username="eve")
    eve.groups.add(editors)
    EnrolmentGrace.objects.create(user=eve, started_at=NOW - datetime.timedelta(days=4))
    django_user_model.objects.create_user(username="sam", is_staff=True)
    enrolled = django_user_model.objects.create_user(username="done", is_staff=True)
    make_device(enrolled)
    django_user_model.objects.create_user(username="reader")


def rows(html: str) -> list[tuple[str, str]]:
    """(caption, then each row's cells as text) of every table on the page."""
    found = []
    for table in re.findall(r"<table>(.*?)</table>", html, re.S):
        caption = re.search(r"<caption>(.*?)</caption>", table, re.S)
        for row in re.findall(r"<tr>(.*?)</tr>", table, re.S):
            cells = [
                re.sub(r"<[^>]+>", "", cell).strip()
                for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
            ]
            if cells:
                found.append((caption.group(1).strip() if caption else "", " | ".join(cells)))
    return found


@time_machine.travel(NOW, tick=False)
def test_staff_who_may_see_devices_see_who_is_not_enrolled_by_group(viewer, covered):
    response = viewer.get(ROLLOUT)
    assert response.status_code == 200
    html = response.content.decode()
    assert "3 users the policy covers have not set up two-factor authentication." in html
    assert "14 days" in html
    table = rows(html)
    # Started 4 days ago, 14 days long; shown in the site's time zone.
    ends = date_format(timezone.localtime(NOW + datetime.timedelta(days=10)), "DATETIME_FORMAT")
    # The staff members "viewer" enrolled in the fixture; "sam" is staff without a device.
    assert table == [
        ("In no group (1)", "sam | Not started: starts at next sign-in"),
        ("Editors (2)", "ed | Not started: starts at next sign-in"),
        ("Editors (2)", f"eve | {ends}"),
        ("Writers (1)", "ed | Not started: starts at next sign-in"),
    ]
    ed = covered_user("ed")
    assert f'<a href="/admin/auth/user/{ed.pk}/change/">ed</a>' in html
    # Read-only: no grace period was started by looking.
    assert not EnrolmentGrace.objects.filter(user__username="ed").exists()


def covered_user(username: str):
    from django.contrib.auth import get_user_model

    return get_user_model().objects.get(username=username)


@time_machine.travel(NOW, tick=False)
def test_the_page_and_the_command_count_the_same(viewer, covered):
    out = StringIO()
    call_command("totp_status", "--json", "--rollout", stdout=out)
    found = json.loads(out.getvalue())["rollout"]
    assert found == {
        "covered_not_enrolled": 3,
        "by_group": {"(no group)": 1, "Editors": 2, "Writers": 1},
        "usernames": ["ed", "eve", "sam"],
    }
    html = viewer.get(ROLLOUT).content.decode()
    assert f"{found['covered_not_enrolled']} users the policy covers" in html
    for name, count in found["by_group"].items():
        shown = "In no group" if name == reports.NO_GROUP else name
        assert f"<caption>{shown} ({count})</caption>" in html


def test_a_grace_period_that_is_over_or_absent_says_so(viewer, covered, settings):
    EnrolmentGrace.objects.filter(user__username="eve").update(
        started_at=NOW - datetime.timedelta(days=30)
    )
    html = viewer.get(ROLLOUT).content.decode()
    assert "eve | Over: must set up at next sign-in" in [cells for _, cells in rows(html)]
    settings.TOTP_ENROLMENT_GRACE_DAYS = 0
    html = viewer.get(ROLLOUT).content.decode()
    assert {cells.split(" | ")[1] for _, cells in rows(html)} == {"No grace period"}
    assert "There is no grace period" in html


def test_everyone_enrolled_says_so(viewer, settings):
    settings.TOTP_REQUIRED_FOR = "staff"
    html = viewer.get(ROLLOUT).content.decode()
    assert "0 users the policy covers" in html
    assert "Everyone the policy covers has set up two-factor authentication." in html


def test_staff_without_a_device_permission_are_refused(django_user_model, code_for, covered):
    clerk = staff_client(django_user_model, code_for, "clerk", "view_user")
    assert clerk.get(ROLLOUT).status_code == 403
    # Nor is the page linked for them.
    assert "rollout" not in clerk.get("/admin/django_totp/").content.decode()


def test_users_who_are_not_staff_go_to_the_admin_sign_in(verified_client):
    response = verified_client.get(ROLLOUT)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_the_page_is_linked_from_the_apps_section_and_the_device_list(viewer):
    assert f'href="{ROLLOUT}"' in viewer.get("/admin/django_totp/").content.decode()
    assert f'href="{ROLLOUT}"' in viewer.get("/admin/django_totp/totpdevice/").content.decode()


def test_a_large_group_is_cut_short_with_how_many_more(viewer, covered, monkeypatch):
    monkeypatch.setattr(totp_admin, "ROLLOUT_ROWS_PER_GROUP", 1)
    html = viewer.get(ROLLOUT).content.decode()
    assert ("Editors (2)", "… and 1 more") in rows(html)
    assert [cells for caption, cells in rows(html) if caption == "Editors (2)"][0].startswith("ed")


def add_users(django_user_model, start: int, count: int) -> None:
    editors, _ = Group.objects.get_or_create(name="Editors")
    perm = Permission.objects.get(codename="view_user")
    for number in range(start, start + count):
        by_group = django_user_model.objects.create_user(username=f"g{number}")
        by_group.groups.add(editors)
        by_perm = django_user_model.objects.create_user(username=f"p{number}")
        by_perm.user_permissions.add(perm)
        django_user_model.objects.create_user(username=f"s{number}", is_staff=True)
        django_user_model.objects.create_user(username=f"r{number}")  # not covered
        EnrolmentGrace.objects.create(user=by_group)


def test_the_number_of_queries_does_not_grow_with_the_number_of_users(
    viewer, django_user_model, settings
):
    settings.TOTP_REQUIRED_FOR = "staff"
    settings.TOTP_REQUIRED_GROUPS = ["Editors"]
    settings.TOTP_REQUIRED_PERMISSIONS = ["auth.view_user"]
    settings.TOTP_ENROLMENT_GRACE_DAYS = 14
    counts = []
    for start, count in [(0, 2), (2, 30)]:
        add_users(django_user_model, start, count)
        with CaptureQueriesContext(connection) as page:
            response = viewer.get(ROLLOUT)
        with CaptureQueriesContext(connection) as report:
            found = reports.rollout()
        assert response.status_code == 200
        assert len(found.users) == 3 * (start + count)
        counts.append((len(page), len(report)))
    assert counts[0] == counts[1], counts
    assert counts[0][1] <= 3, counts


@pytest.mark.parametrize(
    "setting",
    [
        {"TOTP_REQUIRED_FOR": "everyone"},
        {"TOTP_REQUIRED_FOR": "staff"},
        {"TOTP_REQUIRED_FOR": "nobody"},
        {"TOTP_REQUIRED_PERMISSIONS": ["auth.view_user"]},
        {"TOTP_REQUIRED_GROUPS": ["Editors"]},
        {"TOTP_REQUIRED_CALLABLE": "tests.policies.named_editor"},
        {
            "TOTP_REQUIRED_FOR": "staff",
            "TOTP_REQUIRED_PERMISSIONS": ["auth.view_user"],
            "TOTP_REQUIRED_GROUPS": ["Editors"],
            "TOTP_REQUIRED_CALLABLE": "tests.policies.named_editor",
        },
    ],
)
def test_the_batch_policy_agrees_with_the_per_user_rule(django_user_model, settings, setting):
    for name, value in setting.items():
        setattr(settings, name, value)
    add_users(django_user_model, 0, 2)
    django_user_model.objects.create_user(username="editor1")  # named by the function
    django_user_model.objects.create_user(username="root", is_superuser=True)
    gone = django_user_model.objects.create_user(username="gone", is_superuser=True)
    gone.is_active = False
    gone.user_permissions.add(Permission.objects.get(codename="view_user"))
    gone.save()
    users = django_user_model.objects.order_by("pk")
    expected = [user.username for user in users if policy.enrolment_required(user)]
    assert [user.username for user in policy.required_among(users)] == expected
