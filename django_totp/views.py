"""Thin views: the services decide, these pages ask and explain."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar
from urllib.parse import quote

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.mixins import LoginRequiredMixin
from django.contrib.auth.views import LogoutView
from django.db import DatabaseError
from django.db.models import Max, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render, resolve_url
from django.urls import NoReverseMatch, get_script_prefix
from django.utils.decorators import method_decorator
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views import View
from django.views.decorators.cache import never_cache
from django.views.decorators.debug import sensitive_post_parameters

from . import ceremonies, csp, events, oath, passkeys, qr, remember, services, session, stepup
from .conf import conf, site_name
from .forms import (
    AddKeyForm,
    CodeForm,
    ConfirmDeviceForm,
    KeyForm,
    RecoveryCodeForm,
    RenameDeviceForm,
    VerifyForm,
)
from .models import (
    Device,
    DeviceKind,
    TOTPDevice,
    WebAuthnCredential,
    active_devices,
    device_model,
    pk_value,
)
from .redirects import safe_next, url_with_next
from .users import signed_in_user

_Response = TypeVar("_Response", bound=HttpResponseBase)


def logout_url() -> str | None:
    """Where the 2FA pages' "Cancel and sign out" posts: ``TOTP_LOGOUT_URL``, if it resolves."""
    try:
        return resolve_url(conf.TOTP_LOGOUT_URL)
    except NoReverseMatch:
        return None


def deny_framing(request: HttpRequest, response: _Response) -> _Response:
    """Forbid every site, this one included, to show ``response`` in a frame."""
    # SECURITY: set by the package itself, not left to the site's XFrameOptionsMiddleware, so a
    # framed "Turn off" or "Yes, reset" button cannot be clickjacked on any site (R21).
    response["X-Frame-Options"] = "DENY"
    site_policy = csp.site_policy(request, response)
    if site_policy:
        # SECURITY: Django's CSP middleware leaves a response that has the header alone, so
        # setting it here would replace the site's whole policy (script-src and all) with this
        # one directive; instead the middleware writes the site's policy with it.
        csp.override(response, {**site_policy, "frame-ancestors": [csp.NONE]})
    else:
        response["Content-Security-Policy"] = "frame-ancestors 'none'"
    return response


def frame_denied(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """``deny_framing`` for every response of ``view``."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        return deny_framing(request, view(request, *args, **kwargs))

    return wrapper


sensitive: list[Callable[[Callable[..., HttpResponseBase]], Callable[..., HttpResponseBase]]] = [
    never_cache,
    sensitive_post_parameters("code", "credential", "key-credential"),
    frame_denied,
]


@method_decorator(frame_denied, name="dispatch")
class SignOutView(LogoutView):
    """The package's own sign-out, the default ``TOTP_LOGOUT_URL`` of the 2FA pages.

    Django's ``LogoutView``: POST with a CSRF token only, flushes the session, then goes to a
    same-site ``next``, else ``LOGOUT_REDIRECT_URL``, else the site's root. It needs no URL name
    or template of the site, so a user who typed the password but has no code can always leave.
    """

    def get_default_redirect_url(self) -> str:
        if self.next_page or settings.LOGOUT_REDIRECT_URL:
            return super().get_default_redirect_url()
        return get_script_prefix()


# The verify page's key form: its fields never clash with the code form's.
KEY_PREFIX = "key"
# Few enough recovery codes left that the user is asked to make new ones.
FEW_RECOVERY_CODES = 3


@method_decorator(sensitive, name="dispatch")
class TOTPView(LoginRequiredMixin, View):
    """Shared handling: no caching (R6), a database outage is a 503 and a missing device a 404."""

    template_name: str

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        try:
            refusal = self.refuse(request) if request.user.is_authenticated else None
            return refusal or super().dispatch(request, *args, **kwargs)
        except (TOTPDevice.DoesNotExist, WebAuthnCredential.DoesNotExist):
            # Not the user's device, or removed by a request that came first.
            raise Http404 from None
        except stepup.StepUpRequired:
            return self.ask_for_code(request)
        except DatabaseError:
            events.log_event("database_error", user=request.user, request=request)
            return render(request, "django_totp/unavailable.html", status=503)

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        """A response that replaces the page for this signed-in user, or ``None``."""
        return None

    # Lazy: a class attribute is evaluated at import, before any request's language is known.
    step_up_message = gettext_lazy("Enter a code from your app to confirm it's you.")

    def ask_for_code(self, request: HttpRequest) -> HttpResponse:
        """Step-up (R5, R28): the verify page, which comes back here afterwards."""
        messages.info(request, str(self.step_up_message))
        back = request.get_full_path() if request.method == "GET" else request.path
        return redirect(url_with_next(conf.TOTP_VERIFY_URL, back))

    @staticmethod
    def device_gone(request: HttpRequest) -> HttpResponse:
        """The code was right, but its device was removed before the session was recorded."""
        messages.error(request, _("This device was removed meanwhile. Nothing was changed."))
        return redirect(request.get_full_path())

    def render(
        self, request: HttpRequest, template: str | None = None, **context: Any
    ) -> HttpResponse:
        context.setdefault("logout_url", logout_url())
        return render(request, template or self.template_name, context)


def key_messages() -> dict[str, str]:
    """What ``webauthn.js`` tells the user when the browser's part fails, translated here."""
    return {
        "unsupported": _("This browser cannot use security keys here."),
        "cancelled": _("The security key was not used: cancelled, or it took too long."),
        "registered": _("This security key is registered already."),
        "wrong_address": _(
            "Security keys do not work at this address of the site. Use its usual address."
        ),
        "failed": _("The security key could not be used. Try again."),
    }


def key_purpose(request: HttpRequest) -> ceremonies.Purpose:
    """A key used by a verified session is step-up; otherwise it completes the sign-in."""
    verified = session.state_of(request).is_verified
    return ceremonies.Purpose.STEP_UP if verified else ceremonies.Purpose.VERIFY


def signed_in(request: HttpRequest, device: Device, remember_browser: bool) -> HttpResponse:
    """Where a session verified by ``device`` goes next, remembered if the user asked."""
    response = HttpResponseRedirect(safe_next(request))
    if remember_browser:
        remember.set_cookie(response, remember.cookie_value(signed_in_user(request), device))
    return response


class VerifyView(TOTPView):
    """Asks for a code from one of the user's devices (or their security key), then goes on to
    ``next``. Also the step-up page: a session that is verified already confirms it's them."""

    template_name = "django_totp/verify.html"
    form_class: type[CodeForm] = VerifyForm
    # The code page offers the user's security keys first; the recovery page does not.
    offers_key = True

    def get(self, request: HttpRequest) -> HttpResponse:
        state = session.state_of(request)
        if not state.has_device:
            target = conf.TOTP_SETUP_URL if state.must_enrol else None
            next_url = request.GET.get("next")
            return redirect(url_with_next(target, next_url) if target else safe_next(request))
        return self.page(request, self.form_class(request=request))

    def post(self, request: HttpRequest) -> HttpResponse:
        if self.offers_key and KEY_PREFIX + "-credential" in request.POST:
            return self.post_key(request)
        form = self.form_class(request.POST, request=request)
        if not form.is_valid():
            return self.page(request, form)
        assert form.result is not None and form.result.device is not None
        if not session.mark_verified(request, form.result.device, form.result.method):
            return self.device_gone(request)
        return self.verified(request, form)

    def post_key(self, request: HttpRequest) -> HttpResponse:
        if not conf.TOTP_WEBAUTHN:
            raise Http404
        key_form = KeyForm(
            request.POST, request=request, purpose=key_purpose(request), prefix=KEY_PREFIX
        )
        if not key_form.is_valid():
            return self.page(request, self.form_class(request=request), key_form)
        result = key_form.result
        assert result is not None and result.device is not None
        if not session.mark_verified(request, result.device, result.method):
            return self.device_gone(request)
        return signed_in(request, result.device, bool(key_form.cleaned_data.get("remember")))

    def verified(self, request: HttpRequest, form: CodeForm) -> HttpResponse:
        assert form.result is not None and form.result.device is not None
        return signed_in(request, form.result.device, bool(form.cleaned_data.get("remember")))

    def page(
        self, request: HttpRequest, form: CodeForm, key_form: KeyForm | None = None
    ) -> HttpResponse:
        next_url = request.GET.get("next")
        user = signed_in_user(request)
        apps = TOTPDevice.objects.confirmed().filter(user_id=user.pk)
        return self.render(
            request,
            form=form,
            has_app=apps.exists(),
            key_first=conf.TOTP_WEBAUTHN and self.key_first(user, apps),
            recovery_url=url_with_next(conf.TOTP_RECOVERY_URL, next_url),
            verify_url=url_with_next(conf.TOTP_VERIFY_URL, next_url),
            **(self.key_context(request, key_form) if self.offers_key else {}),
        )

    @staticmethod
    def key_first(user: AbstractBaseUser, apps: QuerySet[TOTPDevice]) -> bool:
        """Whether the page offers the key before the code: unless an app was used last."""
        last_app = apps.aggregate(last=Max("last_used_at"))["last"]
        if last_app is None:
            return True
        last_key = WebAuthnCredential.objects.filter(user_id=user.pk).aggregate(
            last=Max("last_used_at")
        )["last"]
        return last_key is not None and last_key > last_app

    @staticmethod
    def key_context(request: HttpRequest, key_form: KeyForm | None) -> dict[str, Any]:
        """The key form and a fresh challenge, when the user has keys and WebAuthn is on."""
        if not conf.TOTP_WEBAUTHN:
            return {}
        purpose = key_purpose(request)
        options = ceremonies.begin_authentication(request, purpose)
        if options is None:
            return {}
        if key_form is None:
            key_form = KeyForm(request=request, purpose=purpose, prefix=KEY_PREFIX)
        return {
            "key_form": key_form,
            "key_options": json.loads(options),
            "key_messages": key_messages(),
        }


class RecoveryView(VerifyView):
    """A recovery code in place of a code, for a lost or locked phone (R22)."""

    template_name = "django_totp/recovery.html"
    form_class = RecoveryCodeForm
    offers_key = False

    def verified(self, request: HttpRequest, form: CodeForm) -> HttpResponse:
        assert form.result is not None and form.result.recovery_codes_left is not None
        left = form.result.recovery_codes_left
        if left <= FEW_RECOVERY_CODES:
            # One message, not two sentences glued together, so translators see it whole.
            warning = ngettext(
                "You have %(count)d recovery code left. "
                "Make a new set on the two-factor settings page.",
                "You have %(count)d recovery codes left. "
                "Make a new set on the two-factor settings page.",
                left,
            )
            messages.warning(request, warning % {"count": left})
        else:
            message = ngettext(
                "You have %(count)d recovery code left.",
                "You have %(count)d recovery codes left.",
                left,
            )
            messages.info(request, message % {"count": left})
        return HttpResponseRedirect(safe_next(request))


class StepUpView(TOTPView):
    """A page that changes 2FA: shown only to a session that passes step-up (R5, R28).

    Anything else is sent to the verify page, which comes back here afterwards. The services
    behind these pages enforce the same rule (``stepup.require``).
    """

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        # SECURITY: a password-only, remembered or stale session sees no page that changes 2FA,
        # and never a new secret (R5, R28).
        return None if stepup.satisfied(request) else self.ask_for_code(request)

    def show_recovery_codes(
        self, request: HttpRequest, codes: list[str], next_url: str
    ) -> HttpResponse:
        """The one time a set of recovery codes is shown, with ways to keep them (R22)."""
        account = ": ".join(filter(None, [site_name(), request.user.get_username()]))
        text = "\n".join([_("Recovery codes for %(account)s") % {"account": account}, "", *codes])
        return self.render(
            request,
            "django_totp/recovery_codes.html",
            codes=codes,
            download_href="data:text/plain;charset=utf-8," + quote(text + "\n"),
            next_url=next_url,
        )


class SetupView(StepUpView):
    """Enrolment: start, show the QR code and secret, then confirm with a first code (R4-R6).

    Adding a device to an enrolled account needs step-up (R5); ``?replace=<id>`` makes the new
    device replace one of the user's devices when it is confirmed (R25).
    """

    template_name = "django_totp/setup.html"
    step_up_message = gettext_lazy("Enter a code from your current app to add another.")

    def get(self, request: HttpRequest) -> HttpResponse:
        device = services.pending_device(request)
        if device is None:
            replaces = self.replaced_device(request, request.GET.get("replace"))
            # Google and Microsoft Authenticator mishandle other lengths and periods.
            usual = conf.TOTP_DIGITS == 6 and conf.TOTP_PERIOD == 30
            return self.render(
                request,
                "django_totp/setup_start.html",
                add_key_url=(
                    url_with_next("django_totp:add_key", request.GET.get("next"))
                    if conf.TOTP_WEBAUTHN
                    else None
                ),
                digits=conf.TOTP_DIGITS,
                usual=usual,
                replaces=replaces,
            )
        return self.show(request, device, ConfirmDeviceForm(request=request, device=device))

    def post(self, request: HttpRequest) -> HttpResponse:
        if "start" in request.POST:
            replaces = self.replaced_device(request, request.POST.get("replace"))
            services.start_setup(request, replaces=replaces.pk if replaces else None)
            return redirect(request.get_full_path())
        device = services.pending_device(request)
        if device is None:
            messages.error(request, _("This setup has expired. Start again to get a new QR code."))
            return redirect(request.get_full_path())
        form = ConfirmDeviceForm(request.POST, request=request, device=device)
        if not form.is_valid():
            return self.show(request, device, form)
        assert form.result is not None
        if not session.mark_verified(request, device):
            return self.device_gone(request)
        messages.success(request, _("Two-factor authentication is on."))
        if form.result.recovery_codes:
            return self.show_recovery_codes(
                request, list(form.result.recovery_codes), safe_next(request)
            )
        return HttpResponseRedirect(safe_next(request))

    @staticmethod
    def replaced_device(request: HttpRequest, raw_id: str | None) -> TOTPDevice | None:
        if not raw_id or not raw_id.isascii() or not raw_id.isdigit():
            return None
        found = pk_value(TOTPDevice, raw_id)
        if found is None:
            return None
        return (
            TOTPDevice.objects.confirmed()
            .filter(user_id=signed_in_user(request).pk, pk=found)
            .first()
        )

    def show(self, request: HttpRequest, device: TOTPDevice, form: CodeForm) -> HttpResponse:
        user = signed_in_user(request)
        # The names as the authenticator app will show them: the URI's label drops colons.
        issuer, account = oath.label_parts(str(user.get_username()), site_name())
        uri = device.key_uri(account=account, issuer=issuer)
        return self.render(
            request,
            form=form,
            device=device,
            qr_svg=qr.qr_svg(uri, label=_("QR code to scan with your authenticator app")),
            otpauth_uri=uri,
            secret_groups=oath.group_secret(device.secret).split(),
            account=account,
            issuer=issuer,
        )


class DisableView(TOTPView):
    """Turn two-factor authentication off: a recent verification or a fresh code (R5, R25)."""

    template_name = "django_totp/disable.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, self.form(request))

    def post(self, request: HttpRequest) -> HttpResponse:
        if not services.may_be_left_without_a_device(signed_in_user(request)):
            return self.page(request, None, status=403)
        form = self.form(request, request.POST)
        if form is not None:
            if not form.is_valid():
                return self.page(request, form)
            assert form.result is not None and form.result.device is not None
            # The code typed here is this session's step-up.
            if not session.mark_verified(request, form.result.device, form.result.method):
                return self.device_gone(request)
        if not services.disable(request):
            return self.page(request, None, status=403)
        messages.success(request, _("Two-factor authentication is off."))
        return remember.delete_cookie(HttpResponseRedirect(safe_next(request)))

    @staticmethod
    def form(request: HttpRequest, data: Any = None) -> CodeForm | None:
        """A code field unless this session passes step-up already."""
        if stepup.satisfied(request):
            return None
        return CodeForm(data, request=request, submit_label=_("Turn off"))

    def page(self, request: HttpRequest, form: CodeForm | None, status: int = 200) -> HttpResponse:
        state = session.state_of(request)
        response = self.render(
            request,
            form=form,
            has_device=state.has_device,
            required=not services.may_be_left_without_a_device(signed_in_user(request)),
        )
        response.status_code = status
        return response


class ManageView(StepUpView):
    """The user's two-factor settings: devices, recovery codes, remembered browsers."""

    template_name = "django_totp/manage.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        user = signed_in_user(request)
        remembered = remember.remembered_device(
            user, request.COOKIES.get(conf.TOTP_REMEMBER_COOKIE_NAME)
        )
        devices = (
            TOTPDevice.objects.confirmed().filter(user_id=user.pk).order_by("created_at", "pk")
        )
        keys = WebAuthnCredential.objects.filter(user_id=user.pk).order_by("created_at", "pk")
        return self.render(
            request,
            devices=list(devices),
            keys=list(keys),
            webauthn=conf.TOTP_WEBAUTHN,
            passkey_sign_in=passkeys.enabled(),
            recovery_codes_left=services.recovery_codes_left(user),
            imported_recovery_codes=services.has_imported_recovery_codes(user),
            few_recovery_codes=FEW_RECOVERY_CODES,
            remember_days=conf.TOTP_REMEMBER_DAYS,
            browser_remembered=remembered is not None,
            required=not services.may_be_left_without_a_device(user),
        )


class DeviceView(StepUpView):
    """A page about one of the user's own devices of ``kind``; anyone else's is a 404."""

    kind: str = DeviceKind.TOTP

    def device(self, request: HttpRequest, pk: int) -> Device:
        model = device_model(self.kind)
        found = pk_value(model, pk)
        if found is None:
            raise model.DoesNotExist(pk)
        device: Device = active_devices(self.kind).get(user_id=signed_in_user(request).pk, pk=found)
        return device

    def render(
        self, request: HttpRequest, template: str | None = None, **context: Any
    ) -> HttpResponse:
        return super().render(request, template, kind=self.kind, **context)


class RenameDeviceView(DeviceView):
    template_name = "django_totp/rename_device.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        device = self.device(request, pk)
        form = RenameDeviceForm(initial={"name": device.name})
        return self.render(request, form=form, device=device)

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        device = self.device(request, pk)
        form = RenameDeviceForm(request.POST)
        if not form.is_valid():
            return self.render(request, form=form, device=device)
        services.rename_device(request, device.pk, form.cleaned_data["name"], kind=self.kind)
        messages.success(request, _("The device was renamed."))
        return redirect("django_totp:manage")


class RemoveDeviceView(DeviceView):
    template_name = "django_totp/remove_device.html"

    def get(self, request: HttpRequest, pk: int) -> HttpResponse:
        return self.page(request, self.device(request, pk))

    def post(self, request: HttpRequest, pk: int) -> HttpResponse:
        device = self.device(request, pk)
        if not services.remove_device(request, device.pk, kind=self.kind):
            return self.page(request, device, status=403)
        messages.success(request, _("“%(name)s” was removed.") % {"name": device.name})
        if not services.has_devices(signed_in_user(request)):
            messages.info(request, _("Two-factor authentication is off."))
            return remember.delete_cookie(redirect("django_totp:manage"))
        return redirect("django_totp:manage")

    def page(self, request: HttpRequest, device: Device, status: int = 200) -> HttpResponse:
        is_last = not services.has_devices(signed_in_user(request), excluding=device)
        response = self.render(
            request,
            device=device,
            is_last=is_last,
            refused=is_last and not services.may_be_left_without_a_device(signed_in_user(request)),
        )
        response.status_code = status
        return response


class RenameKeyView(RenameDeviceView):
    kind = DeviceKind.WEBAUTHN


class RemoveKeyView(RemoveDeviceView):
    kind = DeviceKind.WEBAUTHN


class AddKeyView(StepUpView):
    """Add a security key or passkey (W1-W7): step-up first, as for an app (R5, R28)."""

    template_name = "django_totp/add_key.html"
    step_up_message = gettext_lazy("Confirm it's you before you add a security key.")

    def refuse(self, request: HttpRequest) -> HttpResponse | None:
        if not conf.TOTP_WEBAUTHN:
            raise Http404
        return super().refuse(request)

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.page(request, AddKeyForm(request=request))

    def post(self, request: HttpRequest) -> HttpResponse:
        form = AddKeyForm(request.POST, request=request)
        if not form.is_valid():
            return self.page(request, form)
        result = form.result
        assert result is not None and result.device is not None
        messages.success(request, _("“%(name)s” was added.") % {"name": result.device.name})
        if result.recovery_codes:
            # The user's first device: it verifies this session, as a first app's code does.
            if not session.mark_verified(request, result.device, result.method):
                return self.device_gone(request)
            codes = list(result.recovery_codes)
            return self.show_recovery_codes(request, codes, safe_next(request))
        return redirect("django_totp:manage")

    def page(self, request: HttpRequest, form: AddKeyForm) -> HttpResponse:
        options = ceremonies.begin_registration(request)
        return self.render(
            request, form=form, key_options=json.loads(options), key_messages=key_messages()
        )


class RecoveryCodesView(StepUpView):
    """Make a new set of recovery codes; the old set stops working at once (R22)."""

    template_name = "django_totp/regenerate_codes.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        if not session.state_of(request).has_device:
            return redirect("django_totp:manage")
        return self.render(
            request, recovery_codes_left=services.recovery_codes_left(signed_in_user(request))
        )

    def post(self, request: HttpRequest) -> HttpResponse:
        if not session.state_of(request).has_device:
            return redirect("django_totp:manage")
        codes = services.regenerate_recovery_codes(request)
        return self.show_recovery_codes(request, codes, resolve_url("django_totp:manage"))


class ForgetBrowsersView(StepUpView):
    """Every remembered browser, this one included, asks for a code again (R23)."""

    template_name = "django_totp/forget_browsers.html"

    def get(self, request: HttpRequest) -> HttpResponse:
        return self.render(request)

    def post(self, request: HttpRequest) -> HttpResponse:
        services.forget_browsers(request)
        messages.success(request, _("Every browser will ask for a code at the next sign-in."))
        return remember.delete_cookie(redirect("django_totp:manage"))
