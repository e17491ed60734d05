"""Step-up (R5, R28): changing two-factor settings needs a code typed in this session, recently.

The one home of the rule. The services that change a user's own 2FA call ``require``; views ask
``satisfied`` to decide whether to show a page or send the user to type a code first.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.core.exceptions import PermissionDenied

from . import session
from .conf import conf

if TYPE_CHECKING:
    from django.http import HttpRequest


class StepUpRequired(PermissionDenied):
    """This session must type a code (or a recovery code) before it may change 2FA."""


def satisfied(request: HttpRequest) -> bool:
    """Whether this session may change its user's 2FA now.

    A user without a device may (their first enrolment); an enrolled user's session must have
    typed a code or recovery code within ``TOTP_STEP_UP_SECONDS``. A remembered browser, which
    skipped the code at sign-in, never counts (R28), and neither does a session whose device was
    removed. One query.
    """
    # SECURITY: asked of the device table, not the session's trusted record: what step-up
    # allows outlasts the request, so a session a reset is ending must not get it (R27).
    state = session.confirmed_state(request)
    if state.revoked:
        return False
    return not state.has_device or state.stepped_up_within(conf.TOTP_STEP_UP_SECONDS)


def require(request: HttpRequest) -> None:
    """Raise ``StepUpRequired`` unless ``satisfied(request)``."""
    # SECURITY: checked by the service itself, so no page or caller can skip it (R5, R28).
    if not satisfied(request):
        raise StepUpRequired
