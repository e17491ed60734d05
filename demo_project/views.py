"""The demo's own pages: a public home page, registration and an account page."""

from __future__ import annotations

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import UserCreationForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from django_totp.decorators import totp_exempt


def totp_status(request: HttpRequest) -> str:
    """One word for the home page: anonymous, no_device, unverified or verified."""
    if not request.user.is_authenticated:
        return "anonymous"
    state = request.totp  # type: ignore[attr-defined]
    if state.is_verified:
        return "verified"
    return "unverified" if state.has_device else "no_device"


@totp_exempt
def home(request: HttpRequest) -> HttpResponse:
    """Public, and exempt so a signed-in user can see it before entering a code."""
    return render(request, "home.html", {"status": totp_status(request)})


class RegisterForm(UserCreationForm):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.add_input(Submit("submit", "Create account", css_class="w-100"))


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    form = RegisterForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        # login() sends user_logged_in, which starts django_totp's pending stage; the middleware
        # would send a new user to enrolment anyway, this just skips a redirect.
        login(request, user)
        return redirect(reverse("django_totp:setup"))
    return render(request, "register.html", {"form": form})


@login_required
def account(request: HttpRequest) -> HttpResponse:
    """Only reachable by a verified session: TOTPMiddleware sends everyone else to verify."""
    devices = request.user.totp_devices.filter(confirmed=True).order_by("created_at")
    keys = request.user.webauthn_credentials.order_by("created_at")
    return render(request, "account.html", {"devices": devices, "keys": keys})
