"""Ids beyond the database's integer range in URLs are a 404, not a 500 (``pk__in`` raises
OverflowError on SQLite and DataError on PostgreSQL for them)."""

from __future__ import annotations

import pytest
from django.test import Client

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db

HUGE = "99999999999999999999"
JUST_OVER = str(2**63)


@pytest.mark.parametrize("pk", [HUGE, JUST_OVER])
@pytest.mark.parametrize("page", ["rename", "remove"])
def test_a_huge_device_id_is_a_404(verified_client, pk, page):
    assert verified_client.get(f"/2fa/manage/devices/{pk}/{page}/").status_code == 404
    assert verified_client.post(f"/2fa/manage/devices/{pk}/{page}/").status_code == 404


@pytest.mark.parametrize("pk", [HUGE, JUST_OVER])
def test_a_huge_device_to_replace_is_ignored(verified_client, pk):
    response = verified_client.get(f"/2fa/setup/?replace={pk}")
    assert response.status_code == 200 and response.context["replaces"] is None


@pytest.fixture
def admin_client(staff_user, code_for) -> Client:
    client = Client(raise_request_exception=True)
    client.login(username=staff_user.username, password=PASSWORD)
    assert client.post("/2fa/verify/", {"code": code_for(make_device(staff_user))}).status_code
    return client


@pytest.mark.parametrize("pk", [HUGE, JUST_OVER, str(-(2**63) - 1)])
@pytest.mark.parametrize("page", ["change", "history", "delete"])
def test_a_huge_id_in_the_device_admin_is_not_a_500(admin_client, pk, page):
    response = admin_client.get(f"/admin/django_totp/totpdevice/{pk}/{page}/")
    # Django's admin answers an unknown object with a redirect to the list; delete is off.
    assert response.status_code in (302, 403, 404)


@pytest.mark.parametrize("pk", [HUGE, JUST_OVER])
@pytest.mark.parametrize("operation", ["reset", "unlock"])
def test_a_huge_user_id_in_the_panel_urls_is_a_404(admin_client, pk, operation):
    url = f"/admin/django_totp/totpdevice/user/{pk}/{operation}/"
    assert admin_client.get(url).status_code == 404
    assert admin_client.post(url, {"confirmed": "yes"}).status_code == 404


def test_a_huge_id_among_the_selected_devices_is_not_a_500(admin_client, device):
    response = admin_client.post(
        "/admin/django_totp/totpdevice/",
        {"action": "unlock_devices", "_selected_action": [device.pk, HUGE]},
    )
    assert response.status_code == 200
