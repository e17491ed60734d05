"""R5, R28: step-up has one home (``stepup``), and the services enforce it themselves.

The pages ask ``stepup.satisfied`` to decide what to show; these tests call the services
directly, as a careless view or a site's own code would, and expect a refusal.
"""

from __future__ import annotations

import pytest
import time_machine
from django.test import Client

from django_totp import services, session, stepup
from django_totp.conf import conf
from django_totp.models import TOTPAccount, TOTPDevice, VerificationMethod

from .conftest import PASSWORD, owner_request

pytestmark = pytest.mark.django_db

CHANGES = {
    "regenerate_recovery_codes": lambda request, device: services.regenerate_recovery_codes(
        request
    ),
    "start_setup": lambda request, device: services.start_setup(request),
    "disable": lambda request, device: services.disable(request),
    "remove_device": lambda request, device: services.remove_device(request, device.pk),
    "rename_device": lambda request, device: services.rename_device(request, device.pk, "x"),
    "forget_browsers": lambda request, device: services.forget_browsers(request),
}


def nothing_changed(user, device, codes_before) -> bool:
    device.refresh_from_db()
    return (
        TOTPDevice.objects.filter(user=user).count() == 1
        and device.name != "x"
        and set(user.totp_recovery_codes.values_list("digest", flat=True)) == codes_before
    )


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("method", [None, VerificationMethod.REMEMBERED_BROWSER])
def test_the_services_refuse_a_session_that_typed_no_code(user, device, change, method):
    services.regenerate_recovery_codes(owner_request(user))
    codes_before = set(user.totp_recovery_codes.values_list("digest", flat=True))
    with pytest.raises(stepup.StepUpRequired):
        CHANGES[change](owner_request(user, method), device)
    assert nothing_changed(user, device, codes_before)


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("method", [VerificationMethod.CODE, VerificationMethod.RECOVERY_CODE])
def test_a_typed_factor_counts_only_within_the_step_up_window(user, device, change, method):
    request = owner_request(user, method)
    assert stepup.satisfied(request)
    with time_machine.travel(session.state_of(request).verified_at + 1, tick=False) as clock:
        clock.shift(conf.TOTP_STEP_UP_SECONDS)
        request.totp = session.load_state(request)
        with pytest.raises(stepup.StepUpRequired):
            CHANGES[change](request, device)


def test_a_user_without_a_device_enrols_without_step_up(user):
    assert services.start_setup(owner_request(user, None)).confirmed is False


def test_forgetting_browsers_ends_the_sessions_they_signed_in(user, device, code_for, settings):
    settings.TOTP_REMEMBER_DAYS = 30
    laptop = Client()
    laptop.post("/login/", {"username": user.username, "password": PASSWORD})
    laptop.post("/2fa/verify/", {"code": code_for(device), "remember": "on"})
    laptop.post("/logout/")
    laptop.post("/login/", {"username": user.username, "password": PASSWORD})
    assert laptop.get("/private/").status_code == 200  # signed in by the remembered browser
    assert laptop.session["_totp_verified"]["method"] == "remembered"

    phone = Client()
    phone.post("/login/", {"username": user.username, "password": PASSWORD})
    phone.post("/2fa/verify/", {"code": code_for(device, offset=1)})
    assert phone.post("/2fa/manage/browsers/forget/").status_code == 302

    assert laptop.get("/private/")["Location"].startswith("/login/")
    assert phone.get("/private/").status_code == 200


def test_a_remembered_sign_in_ends_when_browsers_are_forgotten_even_if_not_deleted(
    user, device, settings
):
    # The re-check compares the remember token too, so the promise does not rest on deleting
    # the session from the store (R27).
    settings.TOTP_REMEMBER_DAYS = 30
    request = owner_request(user, VerificationMethod.REMEMBERED_BROWSER)
    TOTPAccount.objects.get(user=user).forget_browsers()
    with time_machine.travel(session.state_of(request).verified_at + 1, tick=False) as clock:
        clock.shift(conf.TOTP_RECHECK_SECONDS)
        state = session.load_state(request)
    assert not state.is_verified and state.revoked
