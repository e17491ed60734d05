"""The token endpoint for API clients (R29): a password alone never mints a token for 2FA users.

Imports ``rest_framework.views``, so it is apart from the permission class (see ``drf``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.translation import gettext_lazy as _
from rest_framework import exceptions
from rest_framework.authtoken.models import Token
from rest_framework.authtoken.serializers import AuthTokenSerializer
from rest_framework.authtoken.views import ObtainAuthToken
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import services
from ..forms import ERROR_MESSAGES, throttled_message
from ..models import TOTPDevice
from ..policy import enrolment_required
from . import ENROL_MESSAGE, vouched_key

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser

CODE_REQUIRED = _("Enter the code your authenticator app shows.")


class ObtainVerifiedAuthToken(APIView):
    """POST ``username``, ``password`` and ``code``: a DRF token, replacing ``obtain_auth_token``.

    For a user with a device the code is checked by ``services.verify_code`` (replay, back-off
    and lock apply) and the token is bound to that device; a user whom ``TOTP_REQUIRED_FOR``
    covers and who has no device gets a 403; any other user gets a plain token, as from DRF.
    Each token minted with a code replaces the user's previous token.
    """

    authentication_classes = ()
    permission_classes = ()
    serializer_class = AuthTokenSerializer

    def post(self, request: Request) -> Response:
        serializer = self.serializer_class(data=request.data, context={"request": request})
        serializer.is_valid(raise_exception=True)
        user: AbstractBaseUser = serializer.validated_data["user"]
        if not TOTPDevice.objects.confirmed().filter(user_id=user.pk).exists():
            if enrolment_required(user):
                raise exceptions.PermissionDenied(ENROL_MESSAGE)
            token, _created = Token.objects.get_or_create(user_id=user.pk)
            return Response({"token": token.key})
        # A dict here: the serializer has refused any other body.
        code = request.data.get("code") if isinstance(request.data, dict) else None
        if not isinstance(code, str) or not code.strip():
            raise exceptions.ValidationError({"code": [CODE_REQUIRED]})
        # SECURITY: the same verification as the verify page, so a password alone never
        # mints a token for a user with 2FA, and a seen code cannot be replayed here (R9, R29).
        result = services.verify_code(user, code, request=request._request)
        if not result.accepted or not isinstance(result.device, TOTPDevice):
            if result.outcome is services.Outcome.THROTTLED:
                message = throttled_message(result.retry_after)
            else:
                message = str(
                    ERROR_MESSAGES.get(result.outcome, ERROR_MESSAGES[services.Outcome.INVALID])
                )
            raise exceptions.ValidationError({"code": [message]})
        Token.objects.filter(user_id=user.pk).delete()
        token = Token.objects.create(user_id=user.pk, key=vouched_key(user, result.device))
        return Response({"token": token.key})


obtain_verified_token = ObtainVerifiedAuthToken.as_view()


def password_token_routes() -> list[str]:
    """Routes of DRF's ``obtain_auth_token`` (password-only tokens) in the URLconf (W007)."""
    return _walk(get_resolver().url_patterns, "")


def _walk(patterns: list[Any], prefix: str) -> list[str]:
    found = []
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            found += _walk(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern):
            view_class = getattr(pattern.callback, "view_class", None)
            if isinstance(view_class, type) and issubclass(view_class, ObtainAuthToken):
                found.append(route)
    return found
