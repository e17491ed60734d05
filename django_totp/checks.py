"""System checks. IDs are stable: add new ones at the end of the table, never renumber.

The settings' own IDs (E004-E013, E015-E027, E030-E035, E038 so far) sit beside their rules in
``conf``, which applies the same rules at first use (R34); take the next free number from both
places (E039 and W013 are the latest here; W001 and W002 are retired).

Messages and hints are in English and not translated, as Django's own system checks are.
"""

from __future__ import annotations

import importlib.metadata
import secrets
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.urls import (
    NoReverseMatch,
    Resolver404,
    ResolverMatch,
    URLPattern,
    URLResolver,
    get_resolver,
    resolve,
    reverse,
)

from . import policy
from .conf import conf, has_wildcard, site_name

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin

MIDDLEWARE_PATH = "django_totp.middleware.TOTPMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
MESSAGE_MIDDLEWARE_PATH = "django.contrib.messages.middleware.MessageMiddleware"
CSRF_MIDDLEWARE_PATH = "django.middleware.csrf.CsrfViewMiddleware"

MESSAGES: dict[str, tuple[str, str]] = {
    "E001": (
        f"{MIDDLEWARE_PATH} is not in MIDDLEWARE.",
        "Add it to MIDDLEWARE after AuthenticationMiddleware and MessageMiddleware, or nothing "
        "is enforced.",
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
    "W005": (
        "The admin registered for {model} has no two-factor panel.",
        "List django_totp after django.contrib.admin in INSTALLED_APPS, or add "
        "django_totp.admin.TOTPDeviceInline to that ModelAdmin's inlines.",
    ),
    "W006": (
        "Django REST framework authenticates with passwords or tokens (BasicAuthentication, "
        "TokenAuthentication) and its DEFAULT_PERMISSION_CLASSES lack IsTwoFactorVerified: "
        "the API answers a password alone.",
        'Add "django_totp.drf.IsTwoFactorVerified" to '
        'REST_FRAMEWORK["DEFAULT_PERMISSION_CLASSES"].',
    ),
    "W007": (
        "DRF's obtain_auth_token is routed at {route!r}: it mints an API token for a password "
        "alone.",
        "Route django_totp.drf.obtain_verified_token instead: it also asks for a code.",
    ),
    "W008": (
        "TOTP_ISSUER is empty and ALLOWED_HOSTS has wildcards: authenticator apps and e-mails "
        "name the site {name!r}.",
        'Set TOTP_ISSUER to the name users know the site by, for example "Example Inc". '
        "django_totp never uses the request's Host header for it.",
    ),
    "W009": (
        "The distribution 'django-totp' {version} is installed beside 'django-totp-2fa': it is "
        "an unrelated project that also installs a django_totp package, so one overwrites the "
        "other's files.",
        "pip uninstall django-totp, then pip install --force-reinstall django-totp-2fa.",
    ),
    "E026": (
        "TOTP_REQUIRED_CALLABLE: {error}",
        "Point it at a function (user) -> bool, or set it to '' to rely on TOTP_REQUIRED_FOR.",
    ),
    "W010": (
        "TOTP_REQUIRED_PERMISSIONS names {permission!r}, but no installed app has the label "
        "{app_label!r}: nobody holds it, so it makes nobody enrol.",
        "Use the permission's app label as in user.has_perm(), e.g. 'wagtailadmin.access_admin'.",
    ),
    "E029": (
        "django_totp's forms cannot be rendered, so every 2FA page would answer 500: {reason}.",
        "Install a crispy-forms template pack and name it, for example pip install "
        "crispy-bootstrap5, 'crispy_bootstrap5' in INSTALLED_APPS, and "
        'CRISPY_ALLOWED_TEMPLATE_PACKS = CRISPY_TEMPLATE_PACK = "bootstrap5".',
    ),
    "W011": (
        "SESSION_ENGINE {engine!r} keeps sessions in signed cookies: signing out only deletes "
        "the browser's copy, so a stolen session cookie stays valid until it expires, and "
        "the cookie can be read.",
        'Use a server-side session engine: "django.contrib.sessions.backends.db" or '
        '"cached_db" with a cache all processes share.',
    ),
    "W012": (
        "{setting} = {value!r} leads to no page of this site: {reason}.",
        "Name a URL pattern or path of ROOT_URLCONF. {why}",
    ),
    "E028": (
        "django_totp's page {name!r} is not served by django_totp: {reason}.",
        'Include django_totp.urls in ROOT_URLCONF, for example path("2fa/", '
        'include("django_totp.urls")), before any catch-all pattern such as Wagtail\'s '
        'path("", include(wagtail_urls)).',
    ),
    "E036": (
        "TOTP_WEBAUTHN is True but the 'webauthn' library (py_webauthn) is not installed.",
        "pip install 'django-totp-2fa[webauthn]', or set TOTP_WEBAUTHN = False.",
    ),
    "E037": (
        "TOTP_WEBAUTHN is True but {setting} is empty.",
        'Set TOTP_WEBAUTHN_RP_ID (e.g. "example.com") and TOTP_WEBAUTHN_ORIGINS (e.g. '
        '["https://example.com"]): the relying party never comes from the request.',
    ),
    "E039": (
        "TOTP_PASSKEY_SIGN_IN is True but TOTP_WEBAUTHN is False: passkeys are security keys, "
        "so nobody can sign in with one.",
        "Set TOTP_WEBAUTHN = True (with TOTP_WEBAUTHN_RP_ID and TOTP_WEBAUTHN_ORIGINS), or "
        "TOTP_PASSKEY_SIGN_IN = False.",
    ),
    "W013": (
        "django_totp.contrib.wagtail is installed, but the 2FA pages use django_totp's own "
        "base template ({origin}), not the Wagtail admin's look.",
        'List "django_totp.contrib.wagtail" before "django_totp" in INSTALLED_APPS.',
    ),
}

# Retired IDs, never to be reused: W001, W002 and W003 repeated Django's own security.W012
# (SESSION_COOKIE_SECURE), security.W016 (CSRF_COOKIE_SECURE) and security.W015
# (SESSION_COOKIE_HTTPONLY).
RETIRED_IDS = ("W001", "W002", "W003")

# What goes wrong when a URL setting leads nowhere (W010).
URL_SETTINGS_WHY = {
    "LOGIN_URL": "django_totp sends people there to sign in again when the time between "
    "password and code runs out or their 2FA was reset, and from its pages when signed out.",
    "TOTP_LOGOUT_URL": 'The 2FA pages\' "Cancel and sign out" disappears; the default, '
    "django_totp:logout, needs no URL of the site.",
    "TOTP_REDIRECT_URL": "django_totp sends people there after the code or enrolment when "
    "there is no next.",
    "LOGIN_REDIRECT_URL": "django_totp sends people there after the code or enrolment when "
    "there is no next (TOTP_REDIRECT_URL is not set, and defaults to it).",
    "TOTP_EXEMPT_URLS": "An exemption by a name no URL pattern has exempts nothing.",
}

# The package's own pages (E023); the URL settings may point elsewhere, these must exist.
OWN_URL_NAMES = ("verify", "recovery", "setup", "logout")

# The name this project is published under, and the unrelated project on PyPI whose
# distribution also writes site-packages/django_totp/.
DISTRIBUTION = "django-totp-2fa"
CLASHING_DISTRIBUTION = "django-totp"

REQUIRED_APPS = ("django.contrib.auth", "django.contrib.sessions", "crispy_forms")


def _error(
    check_id: str, level: type[checks.Error | checks.Warning] = checks.Error, **fmt: Any
) -> checks.CheckMessage:
    msg, hint = MESSAGES[check_id]
    return level(msg.format(**fmt), hint=hint.format(**fmt), id=f"django_totp.{check_id}")


def check_middleware(**kwargs: Any) -> list[checks.CheckMessage]:
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


def check_apps(**kwargs: Any) -> list[checks.CheckMessage]:
    return [_error("E003", app=app) for app in REQUIRED_APPS if not apps.is_installed(app)]


# The templates of the pack that ``{% crispy form %}`` renders the package's forms with.
CRISPY_TEMPLATES = ("whole_uni_form.html", "field.html")


def check_crispy_template_pack(**kwargs: Any) -> list[checks.CheckMessage]:
    """The crispy-forms template pack the 2FA pages render with is named and installed."""
    if not apps.is_installed("crispy_forms"):
        return []  # E003
    from django.template import TemplateDoesNotExist
    from django.template.loader import get_template

    pack = getattr(settings, "CRISPY_TEMPLATE_PACK", None)
    if not pack:
        return [_error("E029", reason="CRISPY_TEMPLATE_PACK is not set")]
    for name in CRISPY_TEMPLATES:
        try:
            get_template(f"{pack}/{name}")
        except TemplateDoesNotExist:
            reason = (
                f"the template {pack}/{name} of CRISPY_TEMPLATE_PACK = {pack!r} is not found "
                "(its app is not installed or not in INSTALLED_APPS)"
            )
            return [_error("E029", reason=reason)]
    return []


def check_settings(**kwargs: Any) -> list[checks.CheckMessage]:
    """Every ``TOTP_*`` setting against its rules in ``conf``, reported with the rule's ID."""
    return [
        checks.Error(error.message, hint=error.hint, id=f"django_totp.{error.check_id}")
        for error in conf.errors()
    ]


def check_policy(**kwargs: Any) -> list[checks.CheckMessage]:
    """The policy's callable imports, and its permissions belong to installed apps."""
    found: list[checks.CheckMessage] = []
    try:
        path = conf.TOTP_REQUIRED_CALLABLE
        if path:
            policy.required_by_callable(path)
        permissions = conf.TOTP_REQUIRED_PERMISSIONS
    except ImproperlyConfigured as error:
        return [_error("E026", error=error)]
    for permission in permissions:
        app_label = permission.partition(".")[0]
        if not any(config.label == app_label for config in apps.get_app_configs()):
            found.append(_error("W010", checks.Warning, permission=permission, app_label=app_label))
    return found


def check_webauthn(**kwargs: Any) -> list[checks.CheckMessage]:
    """WebAuthn switched on has its library and a relying party (W2); passkey sign-in has
    WebAuthn."""
    from . import webauthn

    if conf.errors():
        return []  # check_settings reports them; the values cannot be read
    if not conf.TOTP_WEBAUTHN:
        return [_error("E039")] if conf.TOTP_PASSKEY_SIGN_IN else []
    errors: list[checks.CheckMessage] = []
    if not webauthn.library_installed():
        errors.append(_error("E036"))
    for setting in ("TOTP_WEBAUTHN_RP_ID", "TOTP_WEBAUTHN_ORIGINS"):
        if not getattr(conf, setting):
            errors.append(_error("E037", setting=setting))
    return errors


def check_issuer(**kwargs: Any) -> list[checks.CheckMessage]:
    """A wildcard ALLOWED_HOSTS leaves no reliable site name when TOTP_ISSUER is empty (R33)."""
    if conf.TOTP_ISSUER or not any(has_wildcard(host) for host in settings.ALLOWED_HOSTS):
        return []
    return [_error("W008", checks.Warning, name=site_name())]


def check_clashing_distribution(**kwargs: Any) -> list[Any]:
    """The unrelated ``django-totp`` distribution shares our import name (``pip install
    django-totp`` was the wrong command in early READMEs)."""
    try:
        version = importlib.metadata.version(CLASHING_DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        return []
    return [_error("W009", checks.Warning, version=version)]


def has_user_panel(model_admin: ModelAdmin[Any]) -> bool:
    """Whether a user ModelAdmin shows django_totp's devices (``admin.TOTPDeviceInline``)."""
    from .models import TOTPDevice

    return any(getattr(inline, "model", None) is TOTPDevice for inline in model_admin.inlines)


def check_user_admin(**kwargs: Any) -> list[checks.CheckMessage]:
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


def check_deploy_cookies(**kwargs: Any) -> list[checks.CheckMessage]:
    """Sessions for production; Django's own security.W012, W015 and W016 cover the cookie flags."""
    from .revocation import sessions_can_be_ended

    # SECURITY: a session kept in a signed cookie cannot be deleted on the server (R27).
    if not sessions_can_be_ended():
        return [_error("W011", checks.Warning, engine=settings.SESSION_ENGINE)]
    return []


def check_rest_framework(**kwargs: Any) -> list[checks.CheckMessage]:
    """DRF authenticates inside its views, where the middleware cannot look (R29)."""
    if not apps.is_installed("rest_framework"):
        return []
    from . import drf
    from .drf import views as drf_views

    warnings: list[checks.CheckMessage] = []
    if drf.password_auth_unguarded():
        warnings.append(_error("W006", checks.Warning))
    for route in drf_views.password_token_routes():
        warnings.append(_error("W007", checks.Warning, route=route))
    return warnings


def url_names(patterns: list[URLPattern | URLResolver], prefix: str = "") -> Iterator[str]:
    """Every URL name of ``patterns``, with its namespaces (``"admin:logout"``)."""
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            namespace = f"{prefix}{pattern.namespace}:" if pattern.namespace else prefix
            yield from url_names(pattern.url_patterns, namespace)
        elif pattern.name:
            yield prefix + pattern.name


def leads_nowhere(value: str, names: set[str]) -> str | None:
    """Why ``value`` (a URL name or path, as ``resolve_url`` reads it) is no page, or ``None``."""
    if value in names:
        return None
    if "/" not in value and "." not in value:
        return "no URL pattern has this name"
    url = urlsplit(value)
    if url.scheme or url.netloc or not url.path.startswith("/"):
        return None  # another site (a single sign-on service), or a relative URL
    try:
        match = resolve(url.path)
    except Resolver404:
        return "no URL pattern answers this path"
    # A catch-all (a CMS's page view) answers any path, so Django's defaults, which name no
    # page of such a site, are reported when only the catch-all answers them.
    if url.path in DJANGO_DEFAULT_URLS and is_catch_all(match):
        return f"only the catch-all pattern {match.view_name!r} answers this path, Django's default"
    return None


# Django's defaults for LOGIN_URL and LOGIN_REDIRECT_URL: pages many sites do not have.
DJANGO_DEFAULT_URLS = ("/accounts/login/", "/accounts/profile/")


def is_catch_all(match: ResolverMatch) -> bool:
    """Whether the pattern of ``match`` also answers a path no site names."""
    try:
        other = resolve(f"/django-totp-check-{secrets.token_hex(8)}/")
    except Resolver404:
        return False
    return (other.func, other.route) == (match.func, match.route)


def check_urls(**kwargs: Any) -> list[checks.CheckMessage]:
    """The URLs django_totp sends people to exist, and its own pages are its own (issue 13)."""
    errors: list[checks.CheckMessage] = []
    for name in OWN_URL_NAMES:
        view_name = f"django_totp:{name}"
        try:
            path = reverse(view_name)
        except NoReverseMatch:
            errors.append(_error("E028", name=view_name, reason="django_totp.urls is not included"))
            continue
        try:
            served_by = resolve(path).view_name or ""
        except Resolver404:  # a pattern that reverses but does not resolve: a custom converter
            served_by = ""
        if served_by != view_name:
            answer = f"{path} is answered by {served_by or 'nothing'!r}, an earlier pattern"
            errors.append(_error("E028", name=view_name, reason=answer))
    if conf.errors():
        return errors  # check_settings reports them; the values cannot be read
    names = set(url_names(get_resolver().url_patterns))
    # Named as the site set it: a default is reported under the setting it came from, and
    # the default sign-out only when E028 has not said already that its page is missing.
    own_redirect = hasattr(settings, "TOTP_REDIRECT_URL")
    redirect = "TOTP_REDIRECT_URL" if own_redirect else "LOGIN_REDIRECT_URL"
    logout_told = not hasattr(settings, "TOTP_LOGOUT_URL") and any(
        error.id == "django_totp.E028" for error in errors
    )
    values: list[tuple[str, object]] = [
        ("LOGIN_URL", settings.LOGIN_URL),
        *([] if logout_told else [("TOTP_LOGOUT_URL", conf.TOTP_LOGOUT_URL)]),
        (redirect, conf.TOTP_REDIRECT_URL),
        *(("TOTP_EXEMPT_URLS", v) for v in conf.TOTP_EXEMPT_URLS if not v.startswith("/")),
    ]
    for setting, value in values:
        reason: str | None
        try:
            text = str(value)  # a reverse_lazy() is reversed here
        except NoReverseMatch:
            text, reason = repr(value), "it does not reverse"
        else:
            reason = leads_nowhere(text, names)
        if reason:
            why = URL_SETTINGS_WHY[setting]
            errors.append(
                _error("W012", checks.Warning, setting=setting, value=text, reason=reason, why=why)
            )
    return errors


def register() -> None:
    checks.register(check_middleware, "django_totp")
    checks.register(check_apps, "django_totp")
    checks.register(check_crispy_template_pack, "django_totp", checks.Tags.templates)
    checks.register(check_settings, "django_totp")
    checks.register(check_policy, "django_totp")
    checks.register(check_user_admin, "django_totp")
    checks.register(check_rest_framework, "django_totp", checks.Tags.urls)
    checks.register(check_webauthn, "django_totp")
    checks.register(check_issuer, "django_totp")
    checks.register(check_clashing_distribution, "django_totp")
    checks.register(check_urls, "django_totp", checks.Tags.urls)
    checks.register(check_deploy_cookies, "django_totp", deploy=True)
