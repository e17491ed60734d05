"""Thin views: the services decide, these pages ask and explain."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.mixins import LoginRequiredMixin
from django.db import DatabaseError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render, resolve_url
from django.urls import NoReverseMatch
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import oath, qr, services, session
from .conf import conf
from .forms import CodeForm, ConfirmDeviceForm
from .models import TOTPDevice
from .redirects import safe_next, url_with_next


def current_state(request: HttpRequest) -> session.TOTPState:
    state = getattr(request, "totp", None)
    return state if state is not None else session.load_state(request)


def logout_url() -> str | None:
    try:
        return resolve_url(conf.TOTP_LOGOUT_URL)
    except NoReverseMatch:
        return None


def issuer_for(request: HttpRequest) -> str:
    return conf.TOTP_ISSUER or request.get_host().split(":")[0]


sensitive = [never_cache, sensitive_post_parameters("code")]


@method_decorator(sensitive, name="dispatch")
class TOTPView(LoginRequiredMixin, View):
    """Shared handling: no caching (R6), and a database outage is a 503, never a 500."""

    template_name: str

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return super().dispatch(request, *args, **kwargs)
        except DatabaseError:
            services.log_event("database_error", user=request.user, request=request)
            return render(request, "django_totp/unavailable.html", status=503)

    def render(
        self, request: HttpRequest, template: str | None = None, **context: Any
    ) -> HttpResponse:
        context.setdefault("logout_url", logout_url())
        return render(request, template or self.template_name, context)


class VerifyView(TOTPView):
    """Asks for a code from one of the user's confirmed devices, then goes on to ``next``."""

    template_name = "django_totp/verify.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        state = current_state(request)
        if not state.has_device:
            target = conf.TOTP_SETUP_URL if state.must_enrol else None
            next_url = request.GET.get("next")
            return redirect(url_with_next(target, next_url) if target else safe_next(request))
        return self.render(request, form=CodeForm(request=request))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = CodeForm(request.POST, request=request)
        if not form.is_valid():
            return self.render(request, form=form)
        assert form.result is not None and form.result.device is not None
        session.mark_verified(request, form.result.device)
        return HttpResponseRedirect(safe_next(request))


class SetupView(TOTPView):
    """Enrolment: start, show the QR code and secret, then confirm with a first code (R4-R6)."""

    template_name = "django_totp/setup.html"

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if request.user.is_authenticated:
            state = current_state(request)
            # SECURITY: adding a device to an enrolled account needs a recent second factor,
            # so a password-only session never sees a new secret (R5).
            if state.has_device and not state.verified_within(conf.TOTP_STEP_UP_SECONDS):
                messages.info(request, _("Enter a code from your current app to add another."))
                return redirect(url_with_next(conf.TOTP_VERIFY_URL, request.get_full_path()))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request: HttpRequest) -> HttpResponse:
        device = services.pending_device(request.user)
        if device is None:
            return self.render(request, "django_totp/setup_start.html", digits=conf.TOTP_DIGITS)
        return self.show(request, device, ConfirmDeviceForm(request=request, device=device))

    def post(self, request: HttpRequest) -> HttpResponse:
        if "start" in request.POST:
            services.start_setup(request.user)
            return redirect(request.get_full_path())
        device = services.pending_device(request.user)
        if device is None:
            messages.error(request, _("This setup has expired. Start again to get a new QR code."))
            return redirect(request.get_full_path())
        form = ConfirmDeviceForm(request.POST, request=request, device=device)
        if not form.is_valid():
            return self.show(request, device, form)
        session.mark_verified(request, device)
        messages.success(request, _("Two-factor authentication is on."))
        return HttpResponseRedirect(safe_next(request))

    def show(self, request: HttpRequest, device: TOTPDevice, form: CodeForm) -> HttpResponse:
        user = request.user
        account = str(user.get_username())
        uri = device.key_uri(account=account, issuer=issuer_for(request))
        return self.render(
            request,
            form=form,
            device=device,
            qr_svg=qr.qr_svg(uri, label=_("QR code to scan with your authenticator app")),
            otpauth_uri=uri,
            grouped_secret=oath.group_secret(device.secret),
            account=account,
            issuer=issuer_for(request),
        )


class DisableView(TOTPView):
    """Turn two-factor authentication off: a recent verification or a fresh code (R5, R25)."""

    template_name = "django_totp/disable.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, self.form(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        if session.enrolment_required(request.user):
            return self.page(request, None, status=403)
        form = self.form(request, request.POST)
        if form is not None and not form.is_valid():
            return self.page(request, form)
        services.disable_for_user(request.user, request=request)
        session.forget_verification(request)
        messages.success(request, _("Two-factor authentication is off."))
        return HttpResponseRedirect(safe_next(request))

    @staticmethod
    def form(request: HttpRequest, data: Any = None) -> CodeForm | None:
        """A code field unless this session verified within ``TOTP_STEP_UP_SECONDS``."""
        if current_state(request).verified_within(conf.TOTP_STEP_UP_SECONDS):
            return None
        return CodeForm(data, request=request, submit_label=_("Turn off"))

    def page(self, request: HttpRequest, form: CodeForm | None, status: int = 200) -> HttpResponse:
        state = current_state(request)
        response = self.render(
            request,
            form=form,
            has_device=state.has_device,
            required=session.enrolment_required(request.user),
        )
        response.status_code = status
        return response
