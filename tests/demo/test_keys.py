"""Security keys in the demo: on for http://localhost:<DEMO_PORT>, explained elsewhere."""

from __future__ import annotations

import pytest

from .conftest import demo_settings


def origins(**environment: str) -> str:
    loaded = demo_settings("print(s.TOTP_WEBAUTHN_RP_ID, *s.TOTP_WEBAUTHN_ORIGINS)", **environment)
    assert loaded.returncode == 0, loaded.stderr
    return loaded.stdout.strip()


def test_keys_belong_to_localhost_at_the_port_make_demo_passes():
    assert origins() == "localhost http://localhost:8000"
    assert origins(DEMO_PORT="8080") == "localhost http://localhost:8080"


@pytest.mark.django_db
def test_at_127_0_0_1_every_page_links_to_itself_at_localhost(client, settings):
    settings.TOTP_WEBAUTHN_ORIGINS = ["http://localhost:8000"]
    page = client.get("/register/?x=1", HTTP_HOST="127.0.0.1:8000").content.decode()
    assert 'href="http://localhost:8000/register/?x=1"' in page
    assert "work only at <strong>http://localhost:8000</strong>" in page


@pytest.mark.django_db
def test_at_localhost_no_link(client, settings):
    settings.TOTP_WEBAUTHN_ORIGINS = ["http://localhost:8000"]
    page = client.get("/register/", HTTP_HOST="localhost:8000").content.decode()
    assert 'data-testid="key-address"' not in page


@pytest.mark.django_db
def test_with_keys_off_no_link(client, settings):
    settings.TOTP_WEBAUTHN = False
    page = client.get("/register/", HTTP_HOST="127.0.0.1:8000").content.decode()
    assert 'data-testid="key-address"' not in page
