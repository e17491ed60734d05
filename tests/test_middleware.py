"""R16, R17, R19, R26: the middleware, called directly (sync and async) and through Client."""

from __future__ import annotations

import json

import pytest
import time_machine
from asgiref.sync import async_to_sync, iscoroutinefunction
from django.contrib.auth.models import AnonymousUser
from django.contrib.sessions.middleware import SessionMiddleware
from django.http import HttpResponse
from django.test import RequestFactory

from django_totp import session
from django_totp.conf import conf
from django_totp.middleware import TOTPMiddleware

from .conftest import PASSWORD, make_device

pytestmark = pytest.mark.django_db


def ok(request):
    return HttpResponse("view")


async def async_ok(request):
    return HttpResponse("view")


def sync_call(request):
    return TOTPMiddleware(ok)(request)


def async_call(request):
    middleware = TOTPMiddleware(async_ok)
    assert iscoroutinefunction(middleware)
    return async_to_sync(middleware)(request)


@pytest.fixture(params=[sync_call, async_call], ids=["sync", "async"])
def call(request):
    return request.param


def build_request(user=None, path="/private/", *, password_login=True, **headers):
    request = RequestFactory().get(path, **headers)
    SessionMiddleware(ok).process_request(request)
    request.user = user or AnonymousUser()
    if user is not None and password_login:
        session.start_pending(request)
    return request


def verified_request(user, device, path="/private/", **headers):
    request = build_request(user, path, **headers)
    session.mark_verified(request, device)
    return request


# (policy, user kind) -> where /private/ sends the session: None means through.
USER_KINDS = ["no_device", "no_device_staff", "pending_only", "unverified", "verified"]
EXPECTED = {
    "nobody": {"no_device": None, "no_device_staff": None, "pending_only": None,
               "unverified": "verify", "verified": None},
    "staff": {"no_device": None, "no_device_staff": "setup", "pending_only": None,
              "unverified": "verify", "verified": None},
    "everyone": {"no_device": "setup", "no_device_staff": "setup", "pending_only": "setup",
                 "unverified": "verify", "verified": None},
}  # fmt: skip


def request_for(kind, django_user_model, path="/private/", **headers):
    user = django_user_model.objects.create_user(
        username=f"u-{kind}", password=PASSWORD, is_staff=kind == "no_device_staff"
    )
    if kind == "pending_only":
        make_device(user, confirmed=False)
    if kind in ("unverified", "verified"):
        device = make_device(user)
        if kind == "verified":
            return verified_request(user, device, path, **headers)
    return build_request(user, path, **headers)


@pytest.mark.parametrize("policy", list(EXPECTED))
@pytest.mark.parametrize("kind", USER_KINDS)
def test_policy_and_user_state_matrix(policy, kind, call, django_user_model, settings):
    settings.TOTP_REQUIRED_FOR = policy
    response = call(request_for(kind, django_user_model))
    target = EXPECTED[policy][kind]
    if target is None:
        assert response.content == b"view"
    else:
        assert response.status_code == 302
        assert response["Location"] == f"/2fa/{target}/?next=%2Fprivate%2F"


@pytest.mark.parametrize("policy", list(EXPECTED))
def test_anonymous_requests_pass_without_queries(policy, call, settings, django_assert_num_queries):
    settings.TOTP_REQUIRED_FOR = policy
    with django_assert_num_queries(0):
        assert call(build_request()).content == b"view"


def test_a_verified_session_costs_no_query(call, django_user_model, django_assert_num_queries):
    request = request_for("verified", django_user_model)
    with django_assert_num_queries(0):
        assert call(request).content == b"view"


def test_after_the_recheck_interval_one_query_confirms_the_record_and_trusts_it_again(
    call, django_user_model, django_assert_num_queries
):
    request = request_for("verified", django_user_model)
    verified_at = request.session[session.VERIFIED_KEY]["checked"]
    with time_machine.travel(verified_at + conf.TOTP_RECHECK_SECONDS + 1, tick=False):
        with django_assert_num_queries(1):
            assert call(request).content == b"view"
        with django_assert_num_queries(0):
            assert call(request).content == b"view"


def test_a_record_is_trusted_without_a_query_only_for_the_interval(user, settings):
    settings.TOTP_RECHECK_SECONDS = 10
    request = verified_request(user, make_device(user))
    checked = request.session[session.VERIFIED_KEY]["checked"]
    assert session.holds_trusted_record(request, now=checked + 9.9)
    assert not session.holds_trusted_record(request, now=checked + 10)
    assert not session.holds_trusted_record(request, now=checked - 1)  # a clock set back
    settings.TOTP_RECHECK_SECONDS = 0
    assert not session.holds_trusted_record(request, now=checked)  # 0: checked every time


@pytest.mark.parametrize("kind", ["unverified", "no_device"])
def test_other_authenticated_requests_cost_one_query(
    kind, call, django_user_model, django_assert_num_queries
):
    request = request_for(kind, django_user_model)
    with django_assert_num_queries(1):
        call(request)


def test_with_signed_cookie_sessions_a_verified_session_costs_one_query(
    call, django_user_model, django_assert_num_queries, settings
):
    # Such sessions cannot be deleted on the server, so the device table is asked every time.
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    request = request_for("verified", django_user_model)
    with django_assert_num_queries(1):
        assert call(request).content == b"view"


@pytest.mark.parametrize(
    "path",
    ["/2fa/verify/", "/logout/", "/static/app.css", "/help/", "/health/", "/api/public/x"],
)
def test_allow_list_reaches_the_view_before_verification(path, call, django_user_model, settings):
    settings.TOTP_EXEMPT_URLS = ["health", "/api/public/"]
    response = call(request_for("unverified", django_user_model, path))
    assert response.content == b"view"


@pytest.mark.parametrize(
    "path",
    ["/", "/admin/", "/admin/auth/user/", "/api/data/", "/2fa/setup/", "/login/", "/no-such-page/"],
)
def test_everything_else_redirects_an_unverified_session(path, call, django_user_model):
    response = call(request_for("unverified", django_user_model, path))
    assert response.status_code == 302
    assert response["Location"].startswith("/2fa/verify/?next=")


def test_must_enrol_user_reaches_only_setup_logout_and_exempt(call, django_user_model, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    for path in ("/2fa/setup/", "/logout/", "/help/"):
        assert call(request_for("no_device", django_user_model, path)).content == b"view"
        django_user_model.objects.all().delete()
    response = call(request_for("no_device", django_user_model, "/admin/"))
    assert response["Location"] == "/2fa/setup/?next=%2Fadmin%2F"


@pytest.mark.parametrize(
    "headers",
    [{"HTTP_ACCEPT": "application/json"}, {"HTTP_X_REQUESTED_WITH": "XMLHttpRequest"}],
)
def test_json_and_xhr_requests_get_403_instead_of_a_redirect(headers, call, django_user_model):
    response = call(request_for("unverified", django_user_model, "/api/data/", **headers))
    assert response.status_code == 403
    assert json.loads(response.content)["redirect"] == "/2fa/verify/"


def test_staff_without_a_device_cannot_bypass_enrolment_with_headers(
    call, django_user_model, settings
):
    settings.TOTP_REQUIRED_FOR = "staff"
    request = request_for(
        "no_device_staff", django_user_model, "/admin/",
        HTTP_X_FORWARDED_FOR="127.0.0.1", HTTP_X_TOTP_VERIFIED="1", REMOTE_ADDR="127.0.0.1",
    )  # fmt: skip
    assert call(request).status_code == 302


def test_deleting_the_verifying_device_signs_the_session_out_at_once(verified_client, device, user):
    make_device(user, name="Backup phone")
    assert verified_client.get("/private/").status_code == 200
    device.delete()  # any way of deleting it: here not even through the services
    assert verified_client.get("/private/")["Location"] == "/login/?next=/private/"


@pytest.mark.parametrize("policy", list(EXPECTED))
def test_a_reset_signs_out_the_sessions_its_devices_verified(
    verified_client, user, settings, policy
):
    settings.TOTP_REQUIRED_FOR = policy
    user.totp_devices.all().delete()
    assert verified_client.get("/private/")["Location"] == "/login/?next=/private/"


@pytest.mark.parametrize("engine", ["cache", "cached_db", "file"])
def test_revocation_works_with_every_server_side_session_store(
    client, user, device, code_for, settings, engine, tmp_path
):
    settings.SESSION_ENGINE = f"django.contrib.sessions.backends.{engine}"
    settings.SESSION_FILE_PATH = str(tmp_path)
    client.login(username=user.username, password=PASSWORD)
    client.post("/2fa/verify/", {"code": code_for(device)})
    assert client.get("/private/").status_code == 200
    device.delete()
    assert client.get("/private/")["Location"] == "/login/?next=/private/"


def test_with_signed_cookie_sessions_a_deleted_device_signs_the_session_out(call, user, settings):
    settings.SESSION_ENGINE = "django.contrib.sessions.backends.signed_cookies"
    device = make_device(user)
    request = verified_request(user, device)
    assert call(request).content == b"view"
    device.delete()
    response = call(request)
    assert response["Location"] == "/login/?next=%2Fprivate%2F"
    assert not request.user.is_authenticated


def test_a_session_whose_key_changed_elsewhere_is_checked_once_and_stays_revocable(
    verified_client, device
):
    # Password change views call update_session_auth_hash, which gives the session a new key.
    store = verified_client.session
    store.cycle_key()
    store.save()
    verified_client.cookies["sessionid"] = store.session_key
    assert verified_client.get("/private/").status_code == 200  # device table asked once
    assert verified_client.session["_totp_verified"]["key"] == store.session_key
    device.delete()
    assert verified_client.get("/private/")["Location"] == "/login/?next=/private/"


def test_a_session_verified_for_another_user_is_not_verified(call, user, django_user_model):
    device = make_device(user)
    request = verified_request(user, device)
    other = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    make_device(other)
    request.user = other
    response = call(request)
    assert response.status_code == 302 and response.content != b"view"


def test_the_pending_stage_expires_and_asks_for_the_password_again(call, user, settings):
    make_device(user)
    with time_machine.travel(1_700_000_000, tick=False) as clock:
        request = build_request(user)
        clock.shift(conf.TOTP_PENDING_TIMEOUT + 1)
        response = call(request)
    assert response["Location"] == "/login/?next=%2Fprivate%2F"
    assert not request.user.is_authenticated
    assert session.PASSWORD_AT_KEY not in request.session


def test_an_expired_pending_stage_cannot_reach_the_verify_page(call, user):
    make_device(user)
    with time_machine.travel(1_700_000_000, tick=False) as clock:
        request = build_request(user, "/2fa/verify/")
        clock.shift(conf.TOTP_PENDING_TIMEOUT + 1)
        response = call(request)
    assert response["Location"].startswith("/login/")


def test_a_session_that_never_went_through_login_counts_as_expired(call, user):
    make_device(user)
    request = build_request(user, password_login=False)
    assert call(request)["Location"].startswith("/login/")


def test_request_totp_is_lazy_for_exempt_views(user, django_assert_num_queries):
    make_device(user)
    request = build_request(user, "/static/x.css")
    with django_assert_num_queries(0):
        sync_call(request)
    assert request.totp.has_device and not request.totp.is_verified


def test_for_async_views_the_state_is_loaded_in_the_middlewares_thread(
    user, django_assert_num_queries
):
    # An async view reads request.totp in the event loop, where a query would raise.
    make_device(user)
    request = build_request(user, "/help/")
    with django_assert_num_queries(1):
        async_call(request)
    with django_assert_num_queries(0):
        assert request.totp.has_device and not request.totp.is_verified
        assert async_to_sync(request.atotp)().has_device


def test_a_timed_out_user_is_told_why_they_must_sign_in_again(client, user, device):
    with time_machine.travel(1_700_000_000, tick=False) as clock:
        client.login(username=user.username, password=PASSWORD)
        clock.shift(conf.TOTP_PENDING_TIMEOUT + 1)
        assert client.get("/private/")["Location"].startswith("/login/")
    assert client.get("/messages/").content == b"Please sign in again."


def test_the_pending_stage_of_a_user_who_must_enrol_expires_too(call, user, settings):
    settings.TOTP_REQUIRED_FOR = "everyone"
    with time_machine.travel(1_700_000_000, tick=False) as clock:
        request = build_request(user, "/2fa/setup/")
        clock.shift(conf.TOTP_PENDING_TIMEOUT + 1)
        response = call(request)
    assert response["Location"] == "/login/?next=%2F2fa%2Fsetup%2F"


def test_debug_mode_does_not_open_anything_to_staff_without_a_device(
    call, django_user_model, settings
):
    settings.DEBUG = True
    settings.TOTP_REQUIRED_FOR = "staff"
    for path in ("/admin/", "/private/", "/api/data/", "/help-not-here/"):
        request = request_for("no_device_staff", django_user_model, path, REMOTE_ADDR="127.0.0.1")
        response = call(request)
        assert response.status_code == 302 and response["Location"].startswith("/2fa/setup/"), path
        django_user_model.objects.all().delete()


@pytest.mark.parametrize(
    ("exempt", "path", "reaches_view"),
    [
        ("/api/health", "/api/health", True),
        ("/api/health", "/api/health/", True),
        ("/api/health", "/api/health/live", True),
        ("/api/health", "/api/health-admin/users/", False),
        ("/api/health", "/api/healthz", False),
        ("/api/public/", "/api/public/x", True),
        ("/api/public/", "/api/publicity/", False),
        ("/api/public/", "/api/public-admin/", False),
    ],
)
def test_an_exempt_prefix_matches_whole_path_segments_never_a_sibling(
    exempt, path, reaches_view, call, django_user_model, settings
):
    # The review's attack: ["/api/health"] also opened /api/health-admin/ to a password.
    settings.TOTP_EXEMPT_URLS = [exempt]
    response = call(request_for("unverified", django_user_model, path))
    if reaches_view:
        assert response.content == b"view"
    else:
        assert response["Location"].startswith("/2fa/verify/?next=")


@pytest.mark.parametrize(
    "path",
    [
        "/static/app.css",  # no view: the web server serves it, or Django answers 404
        "/media/avatars/a.png",
        "/media/uploads/a.txt",  # django.views.static.serve
        "/static/debug/app.css",  # django.contrib.staticfiles.views.serve
    ],
)
def test_static_and_media_files_stay_reachable_before_verification(
    path, call, django_user_model, settings
):
    settings.MEDIA_URL = "/media/"
    assert call(request_for("unverified", django_user_model, path)).content == b"view"


def test_a_site_view_under_media_url_is_enforced(call, django_user_model, settings):
    # The review's attack: a login-protected download under MEDIA_URL answered a password.
    settings.MEDIA_URL = "/media/"
    response = call(request_for("unverified", django_user_model, "/media/reports/latest/"))
    assert response["Location"] == "/2fa/verify/?next=%2Fmedia%2Freports%2Flatest%2F"


def test_a_site_view_under_media_url_is_enforced_through_the_client(
    password_client, device, settings
):
    settings.MEDIA_URL = "/media/"
    response = password_client.get("/media/reports/latest/")
    assert response.status_code == 302
    assert b"confidential" not in response.content


def test_an_async_exempt_view_reads_the_state_of_an_unverified_session(async_client, user, device):
    # The review's finding: request.totp made a query inside the event loop and raised
    # SynchronousOnlyOperation; `await request.atotp()` loads it in a thread.
    assert async_client.login(username=user.username, password=PASSWORD)
    response = async_to_sync(async_client.get)("/async-help/")
    assert response.content == b"async help; verified=False; device=True"


def test_an_async_view_reads_the_state_of_a_verified_session(async_client, user, device, code_for):
    assert async_client.login(username=user.username, password=PASSWORD)
    async_to_sync(async_client.post)("/2fa/verify/", {"code": code_for(device)})
    response = async_to_sync(async_client.get)("/async-help/")
    assert response.content == b"async help; verified=True; device=True"


def test_request_totp_and_atotp_share_one_load(user, django_assert_num_queries):
    make_device(user)
    request = build_request(user, "/help/")
    sync_call(request)
    with django_assert_num_queries(1):
        assert request.totp.has_device
        state = async_to_sync(request.atotp)()
    assert state.has_device and not state.is_verified


@pytest.fixture
def app_exemptions(monkeypatch):
    """A registry of app exemptions of this test's own, so none outlives it."""
    from django_totp import middleware

    monkeypatch.setattr(middleware, "_app_exempt_url_names", set())
    return middleware


def test_a_url_name_an_app_registers_is_reachable_before_the_code(
    app_exemptions, call, django_user_model
):
    app_exemptions.exempt_url_names("health")
    assert app_exemptions.app_exempt_url_names() == {"health"}
    assert call(request_for("unverified", django_user_model, "/health/")).content == b"view"


@pytest.mark.parametrize("path", ["/", "/private/", "/health/x"])
def test_an_app_registered_name_exempts_that_view_only(
    app_exemptions, path, call, django_user_model
):
    app_exemptions.exempt_url_names("health", "he")  # no name is a prefix of another
    response = call(request_for("unverified", django_user_model, path))
    assert response["Location"].startswith("/2fa/verify/?next=")
