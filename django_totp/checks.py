"""System checks. IDs are stable: add new ones at the end of the table, never renumber.

Messages and hints are in English and not translated, as Django's own system checks are.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core import checks

from .conf import REQUIRED_FOR_CHOICES, conf, has_wildcard, site_name

MIDDLEWARE_PATH = "django_totp.middleware.TOTPMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGE_MIDDLEWARE_PATH = "django.contrib.messages.middleware.MessageMiddleware"
CSRF_MIDDLEWARE_PATH = "django.middleware.csrf.CsrfViewMiddleware"

MESSAGES: dict[str, tuple[str, str]] = {
    "E001": (
        f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.",
        "Add it to MIDDLEWARE right after AuthenticationMiddleware, or nothing is enforced.",
    ),
    "E002": (
        f"{MIDDLEWARE_PATH} comes before AuthenticationMiddleware.",
        "Move it after AuthenticationMiddleware: it needs request.user.",
    ),
    "W004": (
        f"{MIDDLEWARE_PATH} comes before MessageMiddleware.",
        "Move it after MessageMiddleware, or users are not told why they must sign in again.",
    ),
    "E014": (
        "CsrfViewMiddleware is not in MIDDLEWARE.",
        "Add django.middleware.csrf.CsrfViewMiddleware: every 2FA form relies on it (R21).",
    ),
    "E003": (
        "A required app is missing from INSTALLED_APPS: {app}.",
        "Add {app!r} to INSTALLED_APPS.",
    ),
    "E004": (
        "TOTP_REQUIRED_FOR must be one of {choices}, not {value!r}.",
        'Use "nobody", "staff" or "everyone".',
    ),
    "E005": ("TOTP_DIGITS must be 6, 7 or 8, not {value!r}.", "Use 6: every app supports it."),
    "E006": (
        "TOTP_PERIOD must be an integer from 15 to 300 seconds, not {value!r}.",
        "Use 30: the only period every app supports.",
    ),
    "E007": (
        "TOTP_TOLERANCE must be 0 or 1, not {value!r}.",
        "Wider windows make codes guessable and replayable for longer (R8).",
    ),
    "E008": (
        "TOTP_MAX_FAILURES must be an integer from 1 to 100, not {value!r}.",
        "Use 20; more than 100 guesses weakens a 6-digit code too much (NIST SP 800-63B).",
    ),
    "E009": (
        "TOTP_THROTTLE_FACTOR must be a number of seconds >= 0, not {value!r}.",
        "Use 1 for a 1, 2, 4, 8 ... second back-off.",
    ),
    "E010": (
        "{name} must be a positive number of seconds, not {value!r}.",
        "Use the default unless you have a reason not to.",
    ),
    "E011": (
        "TOTP_EXEMPT_URLS must be a list of URL names or paths starting with '/'.",
        'For example ["health", "/api/public/"].',
    ),
    "E012": (
        "TOTP_ENCRYPTION_KEYS must be a list of strings of at least 32 characters.",
        "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'.",
    ),
    "E013": ("TOTP_ISSUER must be a string.", 'For example "Example Inc".'),
    "E015": (
        "TOTP_REMEMBER_DAYS must be an integer from 0 to 365, not {value!r}.",
        "0 turns 'remember this browser' off; 30 is common.",
    ),
    "E016": (
        "TOTP_REMEMBER_COOKIE_NAME must be a non-empty string unlike the session and CSRF "
        "cookie names, not {value!r}.",
        'Use the default, "totp_remember".',
    ),
    "E017": (
        "TOTP_REMEMBER_FORGET_ON_RECOVERY must be True or False, not {value!r}.",
        "True makes a recovery-code login forget all of the user's remembered browsers.",
    ),
    "E018": (
        "TOTP_NOTIFY_BY_EMAIL must be True or False, not {value!r}.",
        "Leave it True so that users hear about changes to their 2FA.",
    ),
    "E020": (
        "TOTP_NOTIFY_FAILURES_AFTER must be an integer from 1 to 100, not {value!r}.",
        "Use 5: users hear of someone guessing codes long before the back-off shuts them out.",
    ),
    "W005": (
        "The admin registered for {model} has no two-factor panel.",
        "List django_totp after django.contrib.admin in INSTALLED_APPS, or add "
        "django_totp.admin.TOTPDeviceInline to that ModelAdmin's inlines.",
    ),
    "W001": (
        "SESSION_COOKIE_SECURE is False: the verified session can be stolen over plain HTTP.",
        "Set SESSION_COOKIE_SECURE = True in production.",
    ),
    "W002": (
        "CSRF_COOKIE_SECURE is False: the 2FA forms' CSRF token can leak over plain HTTP.",
        "Set CSRF_COOKIE_SECURE = True in production.",
    ),
    "W003": (
        "SESSION_COOKIE_HTTPONLY is False: scripts on the page can read the verified session.",
        "Leave SESSION_COOKIE_HTTPONLY = True.",
    ),
    "W006": (
        "TOTP_ISSUER is empty and ALLOWED_HOSTS has wildcards: authenticator apps and e-mails "
        "name the site {name!r}.",
        'Set TOTP_ISSUER to the name users know the site by, for example "Example Inc". '
        "django_totp never uses the request's Host header for it.",
    ),
}

REQUIRED_APPS = ("django.contrib.auth", "django.contrib.sessions", "crispy_forms")


def _error(check_id: str, level: type[checks.CheckMessage] = checks.Error, **fmt: Any) -> Any:
    msg, hint = MESSAGES[check_id]
    return level(msg.format(**fmt), hint=hint.format(**fmt), id=f"django_totp.{check_id}")


def check_middleware(**kwargs: Any) -> list[Any]:
    middleware = list(settings.MIDDLEWARE)
    if MIDDLEWARE_PATH not in middleware:
        return [_error("E001")]
    if CSRF_MIDDLEWARE_PATH not in middleware:
        return [_error("E014")]
    position = middleware.index(MIDDLEWARE_PATH)

    def comes_after(path: str) -> bool:
        return path not in middleware or middleware.index(path) < position

    if not comes_after(AUTH_MIDDLEWARE_PATH):
        return [_error("E002")]
    if not comes_after(MESSAGE_MIDDLEWARE_PATH):
        return [_error("W004", checks.Warning)]
    return []


def check_apps(**kwargs: Any) -> list[Any]:
    return [_error("E003", app=app) for app in REQUIRED_APPS if not apps.is_installed(app)]


def _is_int(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: Any, low: float) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and value >= low


SETTING_RULES: list[tuple[str, str, Callable[[Any], bool], dict[str, Any]]] = [
    (
        "TOTP_REQUIRED_FOR",
        "E004",
        lambda v: v in REQUIRED_FOR_CHOICES,
        {"choices": REQUIRED_FOR_CHOICES},
    ),
    ("TOTP_DIGITS", "E005", lambda v: _is_int(v, 6, 8), {}),
    ("TOTP_PERIOD", "E006", lambda v: _is_int(v, 15, 300), {}),
    ("TOTP_TOLERANCE", "E007", lambda v: _is_int(v, 0, 1), {}),
    ("TOTP_MAX_FAILURES", "E008", lambda v: _is_int(v, 1, 100), {}),
    ("TOTP_THROTTLE_FACTOR", "E009", lambda v: _is_number(v, 0), {}),
    ("TOTP_REMEMBER_DAYS", "E015", lambda v: _is_int(v, 0, 365), {}),
    (
        "TOTP_REMEMBER_COOKIE_NAME",
        "E016",
        lambda v: (
            isinstance(v, str)
            and bool(v)
            and v not in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
        ),
        {},
    ),
    ("TOTP_REMEMBER_FORGET_ON_RECOVERY", "E017", lambda v: isinstance(v, bool), {}),
    ("TOTP_NOTIFY_BY_EMAIL", "E018", lambda v: isinstance(v, bool), {}),
    ("TOTP_NOTIFY_FAILURES_AFTER", "E020", lambda v: _is_int(v, 1, 100), {}),
]


def check_settings(**kwargs: Any) -> list[Any]:
    errors = []
    for name, check_id, valid, fmt in SETTING_RULES:
        value = getattr(conf, name)
        if not valid(value):
            errors.append(_error(check_id, value=value, **fmt))
    for name in ("TOTP_SETUP_TIMEOUT", "TOTP_PENDING_TIMEOUT", "TOTP_STEP_UP_SECONDS"):
        value = getattr(conf, name)
        if not _is_number(value, 1):
            errors.append(_error("E010", name=name, value=value))
    exempt = getattr(settings, "TOTP_EXEMPT_URLS", [])
    if not isinstance(exempt, (list, tuple)) or not all(isinstance(u, str) and u for u in exempt):
        errors.append(_error("E011"))
    keys = getattr(settings, "TOTP_ENCRYPTION_KEYS", [])
    if not isinstance(keys, (list, tuple)) or not all(
        isinstance(k, str) and len(k) >= 32 for k in keys
    ):
        errors.append(_error("E012"))
    if not isinstance(conf.TOTP_ISSUER, str):
        errors.append(_error("E013"))
    return errors


def check_issuer(**kwargs: Any) -> list[Any]:
    """A wildcard ALLOWED_HOSTS leaves no reliable site name when TOTP_ISSUER is empty (R33)."""
    if conf.TOTP_ISSUER or not any(has_wildcard(host) for host in settings.ALLOWED_HOSTS):
        return []
    return [_error("W006", checks.Warning, name=site_name())]


def has_user_panel(model_admin: Any) -> bool:
    """Whether a user ModelAdmin shows django_totp's devices (``admin.TOTPDeviceInline``)."""
    from .models import TOTPDevice

    return any(getattr(inline, "model", None) is TOTPDevice for inline in model_admin.inlines)


def check_user_admin(**kwargs: Any) -> list[Any]:
    """The user's admin page shows the 2FA panel (see ``admin.attach_user_panel``)."""
    if not apps.is_installed("django.contrib.admin"):
        return []
    # Not django_totp.admin: importing it would register the device admin on the default site.
    from django.contrib import admin
    from django.contrib.auth import get_user_model

    model_admin = admin.site._registry.get(get_user_model())
    if model_admin is None or has_user_panel(model_admin):
        return []
    return [_error("W005", checks.Warning, model=settings.AUTH_USER_MODEL)]


def check_deploy_cookies(**kwargs: Any) -> list[Any]:
    warnings = []
    if not settings.SESSION_COOKIE_SECURE:
        warnings.append(_error("W001", checks.Warning))
    if not settings.CSRF_COOKIE_SECURE:
        warnings.append(_error("W002", checks.Warning))
    if not settings.SESSION_COOKIE_HTTPONLY:
        warnings.append(_error("W003", checks.Warning))
    return warnings


def register() -> None:
    checks.register(check_middleware, "django_totp")
    checks.register(check_apps, "django_totp")
    checks.register(check_settings, "django_totp")
    checks.register(check_user_admin, "django_totp")
    checks.register(check_issuer, "django_totp")
    checks.register(check_deploy_cookies, "django_totp", deploy=True)
