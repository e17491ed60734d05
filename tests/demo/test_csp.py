"""The demo sends the strict Content-Security-Policy of issue 12 (Django 6.0+).

That its pages work under it, without a single violation, is for the browser tests.
"""

from __future__ import annotations

import re

import django
import pytest

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(django.VERSION < (6, 0), reason="Django's CSP middleware is new in 6.0"),
]

POLICY = re.compile(
    r"^default-src 'self'; script-src 'self' 'nonce-[\w-]+'; style-src 'self'; "
    r"img-src 'self' data:; frame-ancestors 'none'$"
)


@pytest.mark.parametrize("path", ["/", "/login/", "/register/"])
def test_the_demos_pages_send_the_strict_policy_with_the_nonce_of_their_script(client, path):
    response = client.get(path)
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    assert POLICY.match(policy), policy
    (nonce,) = re.findall(r"'nonce-([^']+)'", policy)
    assert f'bootstrap.bundle.min.js" nonce="{nonce}"></script>' in response.content.decode()


def test_django_totps_pages_send_the_demos_policy(verified_client):
    response = verified_client.get("/2fa/manage/")
    assert response.status_code == 200
    assert POLICY.match(response["Content-Security-Policy"]), response["Content-Security-Policy"]
