"""R4-R6, R12, R13, R18, R20, R21: the verify and setup pages through Client."""

from __future__ import annotations

import re
import time
from pathlib import Path
from unittest import mock
from urllib.parse import urlencode, urljoin, urlsplit

import pytest
import time_machine
from django.db import OperationalError
from django.test import Client

from django_totp.conf import conf
from django_totp.models import TOTPDevice

from .conftest import PASSWORD

pytestmark = pytest.mark.django_db
VERIFY = "/2fa/verify/"
SETUP = "/2fa/setup/"


ROOT = Path(__file__).resolve().parent.parent
DEMO_CSS = "demo_project/static/demo_project/css/demo.css"


def shown_key(html: str) -> str:
    """The key as the setup page shows it for typing, markup removed."""
    found = re.search(r'<dd class="totp-secret"[^>]*>(.*?)</dd>', html)
    assert found is not None
    return re.sub(r"<[^>]+>", "", found.group(1))


def errors(response) -> str:
    return response.content.decode()


class TestVerify:
    def test_form_is_ready_for_authenticator_autofill(self, password_client, device):
        response = password_client.get(VERIFY)
        html = response.content.decode()
        assert response.status_code == 200
        assert 'name="code"' in html
        assert 'autocomplete="one-time-code"' in html and 'inputmode="numeric"' in html
        assert "no-store" in response["Cache-Control"]

    def test_a_correct_code_goes_on_to_next(self, password_client, device, code_for):
        response = password_client.post(f"{VERIFY}?next=/private/", {"code": code_for(device)})
        assert response.status_code == 302 and response["Location"] == "/private/"
        assert password_client.get("/private/").content == b"private page"

    def test_verification_gives_a_new_session_key_and_csrf_token(
        self, password_client, device, code_for
    ):
        password_client.get(VERIFY)
        old_session = password_client.cookies["sessionid"].value
        old_csrf = password_client.cookies["csrftoken"].value
        password_client.post(VERIFY, {"code": code_for(device)})
        assert password_client.cookies["sessionid"].value != old_session
        assert password_client.cookies["csrftoken"].value != old_csrf

    def test_the_old_session_key_is_not_verified(self, password_client, device, code_for):
        old_session = password_client.cookies["sessionid"].value
        password_client.post(VERIFY, {"code": code_for(device)})
        thief = Client()
        thief.cookies["sessionid"] = old_session
        assert thief.get("/private/").status_code == 302

    def test_a_wrong_code_is_a_form_error(self, password_client, device):
        response = password_client.post(VERIFY, {"code": "098765"})
        assert response.status_code == 200
        assert "That code is not right" in errors(response)
        assert "098765" not in errors(response)
        assert password_client.get("/private/").status_code == 302

    @pytest.mark.parametrize(
        "code", ["١٢٣٤٥٦", "１２３４５６", "+12345", "123_456", "12345", "9" * 10_000, "\x00"]
    )
    def test_odd_input_is_a_counted_form_error_never_a_500(self, password_client, device, code):
        response = password_client.post(VERIFY, {"code": code})
        assert response.status_code == 200
        device.refresh_from_db()
        assert device.failure_count == 1

    def test_an_empty_submission_asks_for_the_code(self, password_client, device):
        response = password_client.post(VERIFY, {})
        assert response.status_code == 200 and "required" in errors(response)

    def test_a_code_in_the_query_string_does_not_verify(self, password_client, device, code_for):
        password_client.get(f"{VERIFY}?code={code_for(device)}")
        assert password_client.get("/private/").status_code == 302
        device.refresh_from_db()
        assert device.last_used_step is None

    def test_a_replayed_code_is_refused_from_a_second_session(
        self, password_client, device, code_for, user
    ):
        code = code_for(device)
        assert password_client.post(VERIFY, {"code": code}).status_code == 302
        second = Client()
        assert second.login(username=user.username, password=PASSWORD)
        response = second.post(VERIFY, {"code": code})
        assert response.status_code == 200 and "already been used" in errors(response)

    def test_back_off_says_when_to_try_again(self, password_client, device, code_for):
        with time_machine.travel(1_700_000_010, tick=False):
            password_client.post(VERIFY, {"code": "000000"})
            response = password_client.post(VERIFY, {"code": code_for(device)})
        assert "Try again in 1 second." in errors(response)

    def test_logging_in_again_does_not_reset_the_back_off(self, client, device, code_for, user):
        with time_machine.travel(1_700_000_010, tick=False):
            client.login(username=user.username, password=PASSWORD)
            client.post(VERIFY, {"code": "000000"})
            client.post("/logout/")
            client.login(username=user.username, password=PASSWORD)
            response = client.post(VERIFY, {"code": code_for(device)})
        assert "Try again in" in errors(response)

    def test_a_fresh_session_cannot_slip_a_code_past_another_sessions_back_off(
        self, client, device, code_for, user, recovery_codes, settings
    ):
        # The decision in docs/security.md (R35): the back-off is per device, whatever the
        # session, because an attacker can open as many "clean" sessions as he likes. The
        # user's way past an attacker's back-off is a recovery code.
        attacker = Client()
        with time_machine.travel(1_700_000_010, tick=False):
            attacker.login(username=user.username, password=PASSWORD)
            for _ in range(3):
                attacker.post(VERIFY, {"code": "000000"})
            client.login(username=user.username, password=PASSWORD)
            response = client.post(VERIFY, {"code": code_for(device)})
            assert "Try again in" in errors(response)
            response = client.post("/2fa/verify/recovery/", {"code": recovery_codes[0]})
            assert response.status_code == 302
            assert client.get("/private/").content == b"private page"

    def test_a_locked_device_tells_the_user_what_to_do(
        self, password_client, device, code_for, settings
    ):
        settings.TOTP_THROTTLE_FACTOR = 0
        settings.TOTP_MAX_FAILURES = 2
        password_client.post(VERIFY, {"code": "000000"})
        response = password_client.post(VERIFY, {"code": "000000"})
        assert "locked" in errors(response) and "staff" in errors(response)
        response = password_client.post(VERIFY, {"code": code_for(device)})
        assert "locked" in errors(response)

    @pytest.mark.parametrize(
        "payload",
        [
            "https://evil.example",
            "//evil.example",
            "///evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "https:evil.example",
            "http://testserver@evil.example",
            "javascript:alert(1)",
            "/%2F%2Fevil.example",
        ],
    )
    def test_unsafe_next_never_leaves_the_site(self, password_client, device, code_for, payload):
        query = urlencode({"next": payload})
        response = password_client.post(f"{VERIFY}?{query}", {"code": code_for(device)})
        assert response.status_code == 302
        target = urlsplit(urljoin("http://testserver/private/", response["Location"]))
        assert (target.scheme, target.netloc) == ("http", "testserver")
        if payload != "/%2F%2Fevil.example":  # a same-site path, harmless as it stands
            assert response["Location"] == "/"

    def test_next_is_carried_from_login_through_verification(self, client, user, device, code_for):
        response = client.post(
            "/login/?next=/private/", {"username": "alice", "password": PASSWORD}
        )
        assert response["Location"] == "/private/"
        response = client.get("/private/")
        assert response["Location"] == f"{VERIFY}?next=%2Fprivate%2F"
        response = client.post(response["Location"], {"code": code_for(device)})
        assert response["Location"] == "/private/"

    def test_posts_without_csrf_token_are_refused(self, user, device, code_for):
        client = Client(enforce_csrf_checks=True)
        client.login(username=user.username, password=PASSWORD)
        assert client.post(VERIFY, {"code": code_for(device)}).status_code == 403
        device.refresh_from_db()
        assert device.last_used_step is None

    def test_a_database_error_is_a_503_and_the_session_stays_unverified(
        self, password_client, device, code_for
    ):
        with mock.patch(
            "django_totp.services.lock_rows",
            side_effect=OperationalError("server closed the connection unexpectedly"),
        ):
            response = password_client.post(VERIFY, {"code": code_for(device)})
        assert response.status_code == 503
        assert "try again" in errors(response).lower()
        assert password_client.get("/private/").status_code == 302

    def test_without_a_device_verify_sends_to_setup_when_required(self, password_client, settings):
        settings.TOTP_REQUIRED_FOR = "everyone"
        response = password_client.get(f"{VERIFY}?next=/private/")
        assert response["Location"] == f"{SETUP}?next=%2Fprivate%2F"

    def test_without_a_device_verify_goes_on_when_not_required(self, password_client):
        assert password_client.get(f"{VERIFY}?next=/private/")["Location"] == "/private/"

    def test_anonymous_users_are_sent_to_login(self, client):
        assert client.get(VERIFY)["Location"].startswith("/login/")


def start_setup(client: Client) -> TOTPDevice:
    response = client.post(SETUP, {"start": "1"})
    assert response.status_code == 302
    return TOTPDevice.objects.get(pk=client.session["_totp_setup"])


class TestSetup:
    @pytest.fixture(autouse=True)
    def everyone(self, settings):
        settings.TOTP_REQUIRED_FOR = "everyone"

    def test_another_session_of_the_user_never_sees_the_pending_secret(self, password_client, user):
        # R31, the review's attack: a password holder signs in while the user enrols, copies
        # the secret the user then confirms, and later passes 2FA with it.
        device = start_setup(password_client)
        secret = device.secret  # in the otpauth URI, and in groups of four for typing
        assert secret in password_client.get(SETUP).content.decode()
        attacker = Client()
        assert attacker.login(username=user.username, password=PASSWORD)
        page = attacker.get(SETUP).content.decode()
        assert secret not in page and f">{secret[:4]}<" not in page
        assert b'name="start"' in attacker.get(SETUP).content
        # The attacker's own start leaves the user's enrolment alone.
        attacker.post(SETUP, {"start": "1"})
        assert secret in password_client.get(SETUP).content.decode()
        assert secret not in attacker.get(SETUP).content.decode()

    def test_get_explains_and_changes_nothing(self, password_client):
        response = password_client.get(SETUP)
        assert response.status_code == 200 and b'name="start"' in response.content
        assert b"6-digit code" in response.content
        assert not TOTPDevice.objects.exists()

    @pytest.mark.parametrize(
        ("digits", "period", "named"), [(6, 30, True), (8, 30, False), (6, 60, False)]
    )
    def test_the_start_page_names_google_and_microsoft_only_for_6_digits_every_30_s(
        self, password_client, settings, digits, period, named
    ):
        settings.TOTP_DIGITS = digits
        settings.TOTP_PERIOD = period
        html = password_client.get(SETUP).content.decode()
        assert f"{digits}-digit code" in html
        assert ("Google Authenticator" in html) is named
        assert ("Microsoft Authenticator" in html) is named
        for app in ("Authy", "1Password", "Bitwarden", "FreeOTP", "Aegis"):
            assert app in html

    def test_the_page_shows_a_local_qr_the_grouped_secret_and_the_uri(self, password_client):
        device = start_setup(password_client)
        response = password_client.get(SETUP)
        html = response.content.decode()
        assert "no-store" in response["Cache-Control"]
        assert re.search(r"<svg[^>]+role=\"img\"", html)
        grouped = " ".join(re.findall(".{1,4}", device.secret))
        assert shown_key(html) == grouped
        assert f"otpauth://totp/Test%20Site:alice?secret={device.secret}" in html
        # SECURITY: no third-party URL carries the secret (R6).
        for url in re.findall(r"(?:src|href)=\"(https?://[^\"]*)", html):
            assert device.secret not in url

    def test_the_page_names_the_account_as_the_app_will_show_it(
        self, password_client, settings, user
    ):
        settings.TOTP_ISSUER = "Acme: Corp"
        user.username = "al:ice"
        user.save()
        start_setup(password_client)
        html = password_client.get(SETUP).content.decode()
        shown = re.search(r"<dt>Account</dt><dd>(.*?)</dd>", html)
        assert shown is not None and shown.group(1) == "Acme Corp: alice"
        assert "otpauth://totp/Acme%20Corp:alice?" in html

    def test_the_key_wraps_between_groups_of_four_never_inside_one(self, password_client):
        device = start_setup(password_client)
        html = password_client.get(SETUP).content.decode()
        key = re.search(r'<dd class="totp-secret"[^>]*>(.*?)</dd>', html).group(1)
        groups = re.findall(".{1,4}", device.secret)
        spans = "".join(f'<span class="totp-secret-group">{g}</span> ' for g in groups)
        assert key == spans.rstrip()
        # totp.css, which the package's base and the demo's load.
        css = (ROOT / "django_totp/static/django_totp/totp.css").read_text()
        rule = re.search(r"\.totp-secret-group \{([^}]*)\}", css)
        assert rule is not None and "white-space: nowrap" in rule.group(1)
        assert "django_totp/totp.css" in (ROOT / "demo_project/templates/base.html").read_text()
        assert "white-space" not in (ROOT / DEMO_CSS).read_text()

    def test_a_forged_host_header_never_names_the_site_in_the_authenticator_app(
        self, password_client, settings, code_for
    ):
        settings.TOTP_ISSUER = ""
        settings.ALLOWED_HOSTS = ["*"]
        evil = {"HTTP_HOST": "account-security.evil.example"}
        device = start_setup(password_client)
        html = password_client.get(SETUP, **evil).content.decode()
        assert f"otpauth://totp/alice?secret={device.secret}" in html
        assert "evil" not in html
        response = password_client.post(SETUP, {"code": code_for(device)}, **evil)
        assert "evil" not in response.content.decode()  # the recovery codes' download

    def test_the_issuer_falls_back_to_the_first_fixed_allowed_host(self, password_client, settings):
        settings.TOTP_ISSUER = ""
        settings.ALLOWED_HOSTS = [".example.com", "testserver"]
        device = start_setup(password_client)
        html = password_client.get(SETUP, HTTP_HOST="testserver").content.decode()
        assert f"otpauth://totp/example.com:alice?secret={device.secret}" in html

    @pytest.mark.parametrize(
        ("hosts", "issuer"),
        [
            (["[::1]", "127.0.0.1"], "127.0.0.1:"),
            (["[::1]", "testserver"], "testserver:"),
            (["[::1]"], ""),
        ],
    )
    def test_an_ipv6_literal_host_is_never_the_issuer(
        self, password_client, settings, hosts, issuer
    ):
        """Without its colons, ``[::1]`` would be the issuer ``[1]`` in the app."""
        device = start_setup(password_client)
        settings.TOTP_ISSUER = ""
        settings.ALLOWED_HOSTS = hosts
        html = password_client.get(SETUP, HTTP_HOST="[::1]").content.decode()
        assert f"otpauth://totp/{issuer}alice?secret={device.secret}" in html
        assert "[1]" not in html

    def test_confirming_activates_the_device_and_verifies_the_session(
        self, password_client, code_for
    ):
        device = start_setup(password_client)
        response = password_client.post(f"{SETUP}?next=/private/", {"code": code_for(device)})
        # The first device comes with recovery codes, shown once, then a link on to ``next``.
        assert response.status_code == 200
        assert response.context["next_url"] == "/private/"
        assert len(response.context["codes"]) == 10
        device.refresh_from_db()
        assert device.confirmed
        assert password_client.get("/private/").content == b"private page"

    def test_after_confirmation_the_secret_is_never_shown_again(self, password_client, code_for):
        device = start_setup(password_client)
        password_client.post(SETUP, {"code": code_for(device)})
        for path in (SETUP, VERIFY, "/private/"):
            assert device.secret not in password_client.get(path).content.decode()

    def test_a_wrong_code_leaves_the_device_inactive(self, password_client):
        device = start_setup(password_client)
        response = password_client.post(SETUP, {"code": "000000"})
        assert response.status_code == 200 and "not right" in errors(response)
        device.refresh_from_db()
        assert not device.confirmed
        assert password_client.get("/private/")["Location"].startswith(SETUP)

    def test_an_expired_setup_starts_over(self, password_client, code_for):
        with time_machine.travel(1_700_000_000, tick=False) as clock:
            device = start_setup(password_client)
            clock.shift(conf.TOTP_SETUP_TIMEOUT + 1)
            response = password_client.post(SETUP, {"code": code_for(device)})
            assert response.status_code == 302
            assert b'name="start"' in password_client.get(SETUP).content

    def test_a_password_only_session_of_an_enrolled_user_never_sees_a_new_secret(
        self, password_client, device
    ):
        for response in (password_client.get(SETUP), password_client.post(SETUP, {"start": "1"})):
            assert response.status_code == 302 and response["Location"].startswith(VERIFY)
        assert TOTPDevice.objects.count() == 1

    def test_adding_a_device_needs_a_recent_verification(self, verified_client, device, code_for):
        assert verified_client.post(SETUP, {"start": "1"}).status_code == 302
        assert TOTPDevice.objects.filter(confirmed=False).count() == 1
        future = time.time() + conf.TOTP_STEP_UP_SECONDS + 1
        with time_machine.travel(future, tick=False):
            response = verified_client.get(SETUP)
        assert response["Location"] == f"{VERIFY}?next=%2F2fa%2Fsetup%2F"


@pytest.mark.django_db(transaction=True)
def test_a_connection_lost_mid_verification_is_a_503_on_postgresql(
    password_client, device, code_for
):
    """A database that goes away: the server really ends this request's connection."""
    from django.db import connection

    from django_totp import services

    if connection.vendor != "postgresql":
        pytest.skip("needs a server whose connection can be terminated")
    real_lock = services.lock_rows

    def lock_after_losing_the_connection(devices):
        with connection.cursor() as cursor:
            # The server ends this very connection, as a failover or restart would.
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        return real_lock(devices)

    with mock.patch("django_totp.services.lock_rows", lock_after_losing_the_connection):
        response = password_client.post(VERIFY, {"code": code_for(device)})
    assert response.status_code == 503
    assert "try again" in errors(response).lower()
    connection.close()  # what request_finished does with a broken connection in a server
    assert password_client.get("/private/").status_code == 302
    device.refresh_from_db()
    assert device.last_used_step is None


DISABLE = "/2fa/disable/"


class TestDisable:
    def test_a_recent_verification_is_enough_and_other_sessions_are_signed_out(
        self, verified_client, user, device, code_for
    ):
        other = Client()
        other.login(username=user.username, password=PASSWORD)
        other.post(VERIFY, {"code": code_for(device, offset=1)})
        assert other.get("/private/").status_code == 200
        assert b'name="code"' not in verified_client.get(DISABLE).content
        response = verified_client.post(DISABLE)
        assert response.status_code == 302
        assert not TOTPDevice.objects.filter(user=user).exists()
        assert verified_client.get("/private/").content == b"private page"
        assert other.get("/private/")["Location"].startswith("/login/")

    def test_an_old_verification_needs_a_fresh_code_in_the_same_form(
        self, verified_client, device, code_for
    ):
        later = time.time() + conf.TOTP_STEP_UP_SECONDS + 1
        with time_machine.travel(later, tick=False) as clock:
            assert b'name="code"' in verified_client.get(DISABLE).content
            response = verified_client.post(DISABLE, {"code": "000000"})
            assert response.status_code == 200 and TOTPDevice.objects.exists()
            clock.shift(2)  # past the one-second back-off
            response = verified_client.post(DISABLE, {"code": code_for(device, offset=1)})
        assert response.status_code == 302
        assert not TOTPDevice.objects.exists()

    def test_a_password_only_session_cannot_disable(self, password_client, device):
        assert password_client.post(DISABLE)["Location"].startswith(VERIFY)
        assert TOTPDevice.objects.filter(pk=device.pk).exists()

    def test_a_required_policy_refuses_to_leave_the_user_without_a_device(
        self, verified_client, device, settings
    ):
        settings.TOTP_REQUIRED_FOR = "everyone"
        assert "cannot be turned off" in verified_client.get(DISABLE).content.decode()
        assert verified_client.post(DISABLE).status_code == 403
        assert TOTPDevice.objects.filter(pk=device.pk).exists()

    def test_get_changes_nothing(self, verified_client, device):
        verified_client.get(DISABLE)
        assert TOTPDevice.objects.filter(pk=device.pk).exists()


def test_a_client_supplied_time_changes_nothing(password_client, device, code_for):
    future = code_for(device, offset=5)
    response = password_client.post(
        VERIFY,
        {"code": future, "time": str(time.time() + 150), "timestamp": "9999999999"},
        HTTP_DATE="Wed, 21 Oct 2099 07:28:00 GMT",
    )
    assert response.status_code == 200 and "not right" in errors(response)


def test_between_the_steps_the_session_holds_no_password_or_form_data(password_client, user):
    data = password_client.session.load()
    assert set(data) <= {"_auth_user_id", "_auth_user_backend", "_auth_user_hash",
                         "_totp_password_at"}  # fmt: skip
    assert PASSWORD not in repr(data)


class TestStepUpAndOtherPages:
    @pytest.fixture
    def stale_verified_client(self, verified_client):
        with time_machine.travel(time.time() + conf.TOTP_STEP_UP_SECONDS + 1, tick=False) as clock:
            yield verified_client, clock

    def test_a_fresh_code_after_the_step_up_window_reaches_a_new_secret(
        self, stale_verified_client, device, code_for
    ):
        client, clock = stale_verified_client
        response = client.get(SETUP)
        assert response["Location"] == f"{VERIFY}?next=%2F2fa%2Fsetup%2F"
        response = client.post(response["Location"], {"code": code_for(device, offset=1)})
        assert response["Location"] == SETUP
        client.post(SETUP, {"start": "1"})
        new_device = TOTPDevice.objects.get(confirmed=False)
        assert new_device.secret in client.get(SETUP).content.decode().replace(" ", "")

    def test_confirming_a_device_gives_a_new_session_key(self, password_client, code_for, settings):
        settings.TOTP_REQUIRED_FOR = "everyone"
        device = start_setup(password_client)
        before = password_client.cookies["sessionid"].value
        password_client.post(SETUP, {"code": code_for(device)})
        assert password_client.cookies["sessionid"].value != before

    @pytest.mark.parametrize("path", [SETUP, DISABLE])
    @pytest.mark.parametrize(
        "payload",
        ["https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)"],
    )
    def test_unsafe_next_on_setup_and_disable_stays_on_the_site(
        self, password_client, code_for, settings, path, payload
    ):
        settings.TOTP_REQUIRED_FOR = "nobody"
        device = start_setup(password_client)
        query = urlencode({"next": payload})
        response = password_client.post(f"{SETUP}?{query}", {"code": code_for(device)})
        assert response.context["next_url"] == "/"
        if path == DISABLE:
            assert password_client.post(f"{DISABLE}?{query}")["Location"] == "/"

    @pytest.mark.parametrize(("path", "data"), [(SETUP, {"start": "1"}), (DISABLE, {})])
    def test_setup_and_disable_refuse_posts_without_csrf_token(self, user, device, path, data):
        client = Client(enforce_csrf_checks=True)
        client.login(username=user.username, password=PASSWORD)
        session = client.session
        session["_totp_verified"] = {"device": device.pk, "user": str(user.pk), "at": time.time()}
        session.save()
        assert client.post(path, data).status_code == 403
        assert TOTPDevice.objects.filter(pk=device.pk).exists()
        assert TOTPDevice.objects.count() == 1


def test_another_user_signing_in_on_a_verified_session_is_not_verified(
    verified_client, django_user_model, code_for
):
    from .conftest import make_device

    bob = django_user_model.objects.create_user(username="bob", password=PASSWORD)
    make_device(bob)
    response = verified_client.post("/login/", {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert verified_client.get("/private/")["Location"].startswith(VERIFY)
