from __future__ import annotations

from typing import Any

from crispy_forms.helper import FormHelper
from crispy_forms.layout import Submit
from django import forms
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from . import ceremonies, services
from .conf import conf
from .models import TOTPDevice, WebAuthnCredential
from .services import Outcome
from .users import signed_in_user

# The class of every form of the package (totp.css scopes its error styles to it).
FORM_CLASS = "totp-form"

ERROR_MESSAGES = {
    Outcome.INVALID: _("That code is not right. Enter the code your app shows now."),
    Outcome.REPLAYED: _("That code has already been used. Wait for the next code in your app."),
    Outcome.LOCKED: _(
        "Two-factor authentication is locked after too many wrong codes. "
        "Ask the site's staff to unlock it."
    ),
    Outcome.NO_DEVICE: _("There is no authenticator app set up to check this code."),
    Outcome.EXPIRED: _("This setup has expired. Start again to get a new QR code."),
}


def throttled_message(seconds: int) -> str:
    return ngettext(
        "Too many attempts. Try again in %(seconds)d second.",
        "Too many attempts. Try again in %(seconds)d seconds.",
        seconds,
    ) % {"seconds": seconds}


class CodeField(forms.Field):
    """The raw submission: strict parsing is the service's job, so every odd input counts."""

    widget = forms.TextInput(
        attrs={
            "autocomplete": "one-time-code",
            "inputmode": "numeric",
            "autocapitalize": "off",
            "spellcheck": "false",
            "autofocus": True,
            "class": "totp-code",
        }
    )

    def prepare_value(self, value: object) -> str:
        # A refused code is useless to retype and may be 10 kB of junk: never echo it back.
        return ""


class CodeForm(forms.Form):
    """A one-time code, checked by the service while the form is cleaned."""

    code = CodeField(label=_("Authentication code"))
    submit_label = _("Verify")
    error_messages = ERROR_MESSAGES

    def __init__(
        self, *args: Any, request: Any, submit_label: str | None = None, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.result: services.Result | None = None
        self.helper = FormHelper()
        # totp.css finds the form's error text under this class, whatever the crispy pack.
        self.helper.form_class = FORM_CLASS
        self.helper.add_input(Submit("submit", submit_label or self.submit_label))

    def check(self, raw_code: str) -> services.Result:
        return services.verify_code(signed_in_user(self.request), raw_code, request=self.request)

    def clean_code(self) -> str:
        raw_code: str = self.cleaned_data["code"]
        self.result = result = self.check(raw_code)
        if result.accepted:
            return raw_code
        outcome = Outcome.LOCKED if result.locked_out else result.outcome
        if outcome is Outcome.THROTTLED:
            raise forms.ValidationError(throttled_message(result.retry_after), code="throttled")
        raise forms.ValidationError(self.error_messages[outcome], code=outcome.value)


class VerifyForm(CodeForm):
    """The code step of a login, with "don't ask again" when ``TOTP_REMEMBER_DAYS`` is set."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        days = conf.TOTP_REMEMBER_DAYS
        if days > 0:
            self.fields["remember"] = self.remember_field(days)

    @staticmethod
    def remember_field(days: int) -> forms.BooleanField:
        return forms.BooleanField(
            required=False,
            label=ngettext(
                "Don't ask again on this browser for %(days)d day",
                "Don't ask again on this browser for %(days)d days",
                days,
            )
            % {"days": days},
        )


class RecoveryCodeField(CodeField):
    widget = forms.TextInput(
        attrs={
            "autocomplete": "off",
            "autocapitalize": "off",
            "spellcheck": "false",
            "autofocus": True,
            "class": "totp-code totp-recovery-code",
        }
    )


class RecoveryCodeForm(CodeForm):
    """One of the user's recovery codes in place of a code from their app (R22)."""

    code = RecoveryCodeField(label=_("Recovery code"))
    error_messages = {
        **ERROR_MESSAGES,
        Outcome.INVALID: _("That recovery code is not valid or has already been used."),
        Outcome.LOCKED: _(
            "Recovery codes are locked after too many wrong attempts. "
            "Ask the site's staff to unlock your account."
        ),
    }

    def check(self, raw_code: str) -> services.Result:
        return services.verify_recovery_code(
            signed_in_user(self.request), raw_code, request=self.request
        )


class RenameDeviceForm(forms.Form):
    name = forms.CharField(
        label=_("Name"),
        max_length=TOTPDevice._meta.get_field("name").max_length,
        help_text=_("For example the phone or app it is on."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.helper = FormHelper()
        self.helper.form_class = FORM_CLASS
        self.helper.add_input(Submit("submit", _("Rename")))

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if any(not character.isprintable() for character in name):
            raise forms.ValidationError(_("Use letters, digits, spaces and punctuation only."))
        return name


class ConfirmDeviceForm(CodeForm):
    """The first code from a new device, proving the user holds its secret (R4)."""

    submit_label = _("Activate")

    def __init__(self, *args: Any, device: TOTPDevice, **kwargs: Any) -> None:
        self.device = device
        super().__init__(*args, **kwargs)

    def check(self, raw_code: str) -> services.Result:
        return services.confirm_device(self.device, raw_code, request=self.request)


KEY_ERROR_MESSAGES = {
    Outcome.INVALID: _("Your security key's answer could not be checked. Try again."),
    Outcome.REPLAYED: _("Your security key's answer was used already. Try again."),
    Outcome.EXPIRED: _("That took too long, or the page was opened again. Try again."),
    Outcome.NO_DEVICE: _("There is no security key set up for your account."),
    Outcome.CLONED: _(
        "This security key was refused: it looks like a copy. Use another key or a recovery "
        "code, and tell the site's staff."
    ),
    Outcome.DUPLICATE: _("This security key is registered already."),
}
# A browser's answer is a few kB; the service bounds it again (W7).
CREDENTIAL_MAX_LENGTH = 64 * 1024


def credential_field() -> forms.CharField:
    """The browser's answer, filled in by ``webauthn.js``; never shown back."""
    return forms.CharField(
        widget=forms.HiddenInput(attrs={"data-totp-webauthn-credential": ""}),
        max_length=CREDENTIAL_MAX_LENGTH,
        strip=False,
        error_messages={
            "required": _("Use your security key first."),
            "max_length": KEY_ERROR_MESSAGES[Outcome.INVALID],
        },
    )


class KeyForm(forms.Form):
    """An assertion from one of the user's security keys, checked while the form is cleaned.

    The verify page's second form: a key verifies the session as a code does, and step-up when
    the session was verified already.
    """

    credential = credential_field()

    def __init__(
        self, *args: Any, request: Any, purpose: ceremonies.Purpose, **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.purpose = purpose
        self.result: services.Result | None = None
        days = conf.TOTP_REMEMBER_DAYS
        if days > 0 and purpose is ceremonies.Purpose.VERIFY:
            self.fields["remember"] = VerifyForm.remember_field(days)

    def clean_credential(self) -> str:
        raw: str = self.cleaned_data["credential"]
        self.result = result = ceremonies.verify_assertion(self.request, raw, self.purpose)
        if not result.accepted:
            raise forms.ValidationError(KEY_ERROR_MESSAGES[result.outcome], code=result.outcome)
        return raw


class AddKeyForm(forms.Form):
    """A name for a new security key and the browser's answer to the registration challenge."""

    name = forms.CharField(
        label=_("Name"),
        max_length=WebAuthnCredential._meta.get_field("name").max_length,
        help_text=_("For example “Blue USB key” or “Laptop fingerprint”."),
    )
    credential = credential_field()

    def __init__(self, *args: Any, request: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request = request
        self.result: services.Result | None = None

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"]
        if any(not character.isprintable() for character in name):
            raise forms.ValidationError(_("Use letters, digits, spaces and punctuation only."))
        return name

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.errors:
            return cleaned
        self.result = result = ceremonies.finish_registration(
            self.request, cleaned["credential"], cleaned["name"]
        )
        if not result.accepted:
            self.add_error("credential", KEY_ERROR_MESSAGES[result.outcome])
        return cleaned
