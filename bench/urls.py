"""The pages the benchmarks request. Each second-factor stack gets its own protected page."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.urls import include, path
from django.utils.html import format_html
from django_otp.decorators import otp_required
from django_otp.views import LoginView as OTPLoginView


def public(request: HttpRequest) -> HttpResponse:
    """A page anyone may see: what an anonymous visitor costs each stack."""
    return HttpResponse("<p>Hello</p>")


@login_required
def page(request: HttpRequest) -> HttpResponse:
    """The protected page: as cheap as a page can be, so the stack's own cost shows fully."""
    return HttpResponse(format_html("<p>Hello {}</p>", request.user.get_username()))


urlpatterns = [
    path("", public, name="public"),
    path("login/", auth_views.LoginView.as_view(template_name="bench/login.html"), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    # (a) plain Django: login_required only.
    path("plain/", page, name="plain"),
    # (b) django-otp: OTPMiddleware + otp_required, verified through django-otp's LoginView.
    path("otp/", otp_required(page), name="otp"),
    path("otp/login/", OTPLoginView.as_view(template_name="bench/otp_login.html"), name="otplogin"),
    # (c) django-totp: TOTPMiddleware enforces; the page itself is only login_required.
    path("totp/", page, name="totp"),
    path("2fa/", include("django_totp.urls")),
]
