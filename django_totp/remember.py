"""The "remember this browser" cookie on the response (R23); ``services`` makes and checks it."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpResponse

from .conf import conf


def set_cookie(response: HttpResponse, value: str) -> HttpResponse:
    # SECURITY: HttpOnly so scripts cannot read it, Lax so other sites cannot send it with a
    # POST, Secure whenever the session cookie is (R23).
    response.set_cookie(
        conf.TOTP_REMEMBER_COOKIE_NAME,
        value,
        max_age=conf.TOTP_REMEMBER_DAYS * 86400,
        path=settings.SESSION_COOKIE_PATH,
        domain=settings.SESSION_COOKIE_DOMAIN,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Lax",
    )
    return response


def delete_cookie(response: HttpResponse) -> HttpResponse:
    response.delete_cookie(
        conf.TOTP_REMEMBER_COOKIE_NAME,
        path=settings.SESSION_COOKIE_PATH,
        domain=settings.SESSION_COOKIE_DOMAIN,
        samesite="Lax",
    )
    return response
