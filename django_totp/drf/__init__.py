"""Django REST framework support (R29): the only package that imports DRF (extra ``[drf]``).

DRF authenticates inside its views (Basic, Token, ...), after ``TOTPMiddleware`` has seen an
anonymous request, so the middleware cannot enforce anything there. This module brings the
same rule to DRF:

- ``IsTwoFactorVerified``, a permission class that asks ``middleware.step_required``, the
  middleware's own decision, about the user DRF authenticated;
- ``drf.views.obtain_verified_token``, which replaces DRF's ``obtain_auth_token`` and never
  mints a token for a password alone when the user has 2FA;
- the helpers behind the system checks ``django_totp.W006`` and ``W007``.

DRF imports ``DEFAULT_PERMISSION_CLASSES`` while it defines ``APIView``, so this module must
not import ``rest_framework.views``; the token view lives in ``drf.views``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext_lazy as _
from rest_framework.authentication import BasicAuthentication, TokenAuthentication
from rest_framework.permissions import BasePermission
from rest_framework.settings import api_settings

from .. import crypto, session
from ..middleware import step_required
from ..models import TOTPDevice

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from rest_framework.request import Request
    from rest_framework.views import APIView

VERIFY_MESSAGE = _(
    "Two-factor verification required: use a session verified with a code, or a token from "
    "the verified token endpoint."
)
ENROL_MESSAGE = _("Two-factor enrolment required: set up an authenticator app first.")

# A vouched token's key: a random nonce, then a keyed digest binding it to the user and to the
# device whose code was typed. 20 + 20 hex characters fill DRF's 40-character key.
NONCE_CHARS = 20


def _token_digests(nonce: str, user_pk: Any, device_pk: int) -> list[str]:
    """The digest part of a key, under every configured key (newest first, for rotation)."""
    value = f"django_totp.drf.token:{nonce}:{user_pk}:{device_pk}"
    return [digest[: 40 - NONCE_CHARS] for digest in crypto.digests(value)]


def vouched_key(user: AbstractBaseUser, device: TOTPDevice) -> str:
    """A token key that proves ``device``'s code was typed when it was minted."""
    nonce = secrets.token_hex(NONCE_CHARS // 2)
    return nonce + _token_digests(nonce, user.pk, device.pk)[0]


def token_is_vouched(key: str, user: AbstractBaseUser) -> bool:
    """Whether ``key`` was minted after a code from one of ``user``'s current devices."""
    nonce, digest = key[:NONCE_CHARS], key[NONCE_CHARS:]
    # SECURITY: bound to a device the user still has, so a reset or removal ends the token
    # at once, like the sessions that device verified (R17, R24).
    device_ids = TOTPDevice.objects.confirmed().filter(user_id=user.pk).values_list("pk", flat=True)
    return any(
        constant_time_compare(digest, expected)
        for device_id in device_ids
        for expected in _token_digests(nonce, user.pk, device_id)
    )


class IsTwoFactorVerified(BasePermission):
    """Refuses a request whose user must show a second factor this request has not shown.

    The decision is the middleware's (``middleware.step_required``), taken for the user DRF
    authenticated: a session verified with a code passes; so does a user whom
    ``TOTP_REQUIRED_FOR`` does not cover and who has no device. A request authenticated by
    DRF's Basic or Token authentication carries no verified session, so a user with a device,
    or who must enrol, is refused with a 403, except with a token from
    ``ObtainVerifiedAuthToken`` bound to a device the user still has. Anonymous requests pass:
    combine it with ``IsAuthenticated``.
    """

    message = VERIFY_MESSAGE

    def has_permission(self, request: Request, view: APIView) -> bool:
        django_request = request._request
        user = request.user
        # SECURITY: DRF sets the user it authenticated on the Django request as well; the
        # decision must be about that user, whatever the session belongs to.
        if django_request.user is not user:
            return False
        state = session.load_state(django_request)
        if step_required(django_request, state) is None:
            return True
        key = getattr(request.auth, "key", None)
        by_token = isinstance(request.successful_authenticator, TokenAuthentication)
        # (A token authenticates a user: is_authenticated only narrows the type.)
        if (
            by_token
            and isinstance(key, str)
            and user.is_authenticated
            and token_is_vouched(key, user)
        ):
            return True
        self.message = ENROL_MESSAGE if state.must_enrol else VERIFY_MESSAGE
        return False


def password_auth_unguarded() -> bool:
    """Whether DRF's default authentication takes passwords or tokens (Basic, Token) while its
    default permissions lack ``IsTwoFactorVerified`` (check W006)."""
    # djangorestframework-stubs types these settings as the dotted paths of the settings
    # file; api_settings has imported them (classes, or composed permissions).
    authenticators: Sequence[type] = api_settings.DEFAULT_AUTHENTICATION_CLASSES  # type: ignore[assignment]
    permissions: Sequence[object] = api_settings.DEFAULT_PERMISSION_CLASSES
    risky = any(
        issubclass(authenticator, (BasicAuthentication, TokenAuthentication))
        for authenticator in authenticators
    )
    guarded = any(
        isinstance(permission, type) and issubclass(permission, IsTwoFactorVerified)
        for permission in permissions
    )
    return risky and not guarded
