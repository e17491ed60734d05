from __future__ import annotations

import os
import time
from collections.abc import Callable

import pytest
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import Client, RequestFactory

from django_totp import oath, services, session
from django_totp.models import TOTPAccount, TOTPDevice, VerificationMethod, WebAuthnCredential
from django_totp.policy import end_enrolment_grace

PASSWORD = "correct horse battery staple"


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user(
        username="alice", email="alice@example.com", password=PASSWORD
    )


@pytest.fixture
def staff_user(django_user_model):
    return django_user_model.objects.create_user(
        username="staff", password=PASSWORD, is_staff=True, is_superuser=True
    )


def make_device(user, *, confirmed: bool = True, **fields) -> TOTPDevice:
    """A device as enrolment leaves it: confirmed, the user's grace period over for good."""
    device = TOTPDevice.new_pending(user)
    device.confirmed = confirmed
    for name, value in fields.items():
        setattr(device, name, value)
    device.save()
    if confirmed:
        end_enrolment_grace(user)
    return device


@pytest.fixture
def device(user) -> TOTPDevice:
    return make_device(user)


def owner_request(user, method: str | None = VerificationMethod.CODE):
    """A request of ``user``'s own session, verified by ``method`` with their first device
    (their first app, else their first security key, whose method is then ``webauthn``).

    The default, a code just typed, passes step-up; ``None`` is the password step only. For
    calling the self-service functions of ``services`` directly.
    """
    request = RequestFactory().post("/2fa/manage/")
    SessionMiddleware(lambda r: HttpResponse()).process_request(request)
    request.user = user
    session.start_pending(request)
    device = services.first_device(user)  # an app, else a security key
    if isinstance(device, WebAuthnCredential) and method == VerificationMethod.CODE:
        method = VerificationMethod.WEBAUTHN  # what a key-only user "types"
    if method is not None and device is not None:
        token = None
        if method == VerificationMethod.REMEMBERED_BROWSER:
            token = TOTPAccount.objects.get_or_create(user=user)[0].remember_token
        assert session.mark_verified(request, device, method, remember_token=token)
    return request


@pytest.fixture
def recovery_codes(user, device) -> list[str]:
    """A fresh set of the user's recovery codes, as shown to them (grouped)."""
    return services.regenerate_recovery_codes(owner_request(user))


@pytest.fixture
def receive():
    """``receive(signal)`` records the keyword arguments of each send, for this test only.

    Disconnects only its own receivers, so the app's (notifications) stay connected.
    """
    connected = []

    def connect(signal) -> list[dict]:
        calls: list[dict] = []

        def receiver(sender, **kwargs):
            calls.append(kwargs)

        signal.connect(receiver, weak=False)
        connected.append((signal, receiver))
        return calls

    yield connect
    for signal, receiver in connected:
        signal.disconnect(receiver)


CodeFor = Callable[..., str]


@pytest.fixture
def code_for() -> CodeFor:
    """The code a device shows at ``at`` (default now) shifted by ``offset`` steps."""

    def code(device: TOTPDevice, *, at: float | None = None, offset: int = 0) -> str:
        moment = time.time() if at is None else at
        step = oath.time_step(moment, device.period) + offset
        return oath.code_at_step(device.secret, step, digits=device.digits)

    return code


@pytest.fixture
def password_client(client: Client, user) -> Client:
    """A client past the password step only."""
    assert client.login(username=user.get_username(), password=PASSWORD)
    return client


@pytest.fixture
def verified_client(password_client: Client, device: TOTPDevice, code_for: CodeFor) -> Client:
    response = password_client.post("/2fa/verify/", {"code": code_for(device)})
    assert response.status_code == 302, response.content
    return password_client


# Folders whose tests need settings of their own; each runs in a separate pytest invocation.
OWN_SETTINGS = {
    "demo": "demo_project.settings",
    "browser": "demo_project.settings",
    "custom_user": "tests.custom_user.settings",
    "imports": "tests.imports.settings",
    "wagtail_site": "tests.wagtail_site.settings",
}


def pytest_ignore_collect(collection_path, config):
    from django.conf import settings

    own = OWN_SETTINGS.get(collection_path.name)
    if own is not None and settings.SETTINGS_MODULE != own:
        return True
    return None


@pytest.fixture
def redis_url() -> str:
    """The throw-away Redis that ``tests.redis_server`` started; skips without one (not in CI)."""
    url = os.environ.get("TOTP_TEST_REDIS_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs the suite under tests.redis_server: TOTP_TEST_REDIS_URL is unset")
        pytest.skip("needs Redis: run under `python -m tests.redis_server -- pytest`")
    return url
