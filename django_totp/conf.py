"""The one place django-totp reads and validates its settings.

Every value is read from ``django.conf.settings`` on each access, so ``override_settings`` works
and nothing is read at import time. Each value is checked against its rules on every access: a
value of the wrong type or out of range raises ``InvalidSetting`` (an ``ImproperlyConfigured``),
so a misconfigured site fails with an error instead of running with a door open (R34). App
servers do not run system checks; ``checks.check_settings`` reports the same errors, with the
rules' IDs, to ``manage.py check``.
"""

from __future__ import annotations

import ipaddress
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, cast

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.functional import Promise

RequiredFor = Literal["nobody", "staff", "everyone"]
UserVerification = Literal["discouraged", "preferred", "required"]
USER_VERIFICATION_CHOICES: tuple[UserVerification, ...] = ("discouraged", "preferred", "required")
REQUIRED_FOR_CHOICES: tuple[RequiredFor, ...] = ("nobody", "staff", "everyone")
T = TypeVar("T")


@dataclass(frozen=True)
class Rule:
    """One check on a setting's value, with the system check ID that reports it.

    ``message`` may name ``{name}`` and ``{value}``; rules for secrets must name neither value.
    """

    check_id: str
    valid: Callable[[Any], bool]
    message: str
    hint: str


class InvalidSetting(ImproperlyConfigured):
    """A ``TOTP_*`` setting breaks one of its rules; the text says which and what to do."""

    def __init__(self, rule: Rule, name: str, value: Any) -> None:
        self.check_id = rule.check_id
        self.message = rule.message.format(name=name, value=value)
        self.hint = rule.hint
        super().__init__(f"{self.message} {self.hint}")


def _is_int(value: Any, low: float, high: float) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high


def _is_number(value: Any, low: float) -> bool:
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value >= low
    )


def _is_list_of(value: Any, item: Callable[[Any], bool]) -> bool:
    # SECURITY: a str is iterable too; ("/health/") without its comma would become ["/", ...].
    return isinstance(value, (list, tuple)) and all(item(v) for v in value)


def _is_exact_prefix(value: str) -> bool:
    """A path prefix whose whole segments say what it exempts (R30); URL names pass."""
    if not value.startswith("/"):
        return True
    # SECURITY: "/" alone would exempt the whole site; "//", "..", "?", "#" and whitespace
    # make a prefix that no request path matches as written, or that means something else.
    return (
        value != "/"
        and not any(part in value for part in ("//", "..", "?", "#"))
        and not any(char.isspace() for char in value)
    )


def _is_permission_name(value: Any) -> bool:
    app_label, dot, codename = value.partition(".") if isinstance(value, str) else ("", "", "")
    return bool(app_label and dot and codename)


def _is_url(value: Any) -> bool:
    return isinstance(value, (str, Promise)) and bool(str(value))


def _seconds(check_id: str = "E010") -> Rule:
    return Rule(
        check_id,
        lambda v: _is_number(v, 1),
        "{name} must be a positive number of seconds, not {value!r}.",
        "Use the default unless you have a reason not to.",
    )


def _boolean(check_id: str, hint: str) -> Rule:
    return Rule(check_id, lambda v: isinstance(v, bool), "{name} must be True or False.", hint)


def is_rp_id(value: Any) -> bool:
    """A WebAuthn relying party ID: a lower-case domain name, never an IP address (W2).

    "localhost" is the one single-label name allowed; other single labels ("com") are public
    suffixes no site owns.
    """
    if not isinstance(value, str) or not value or value != value.lower().strip("."):
        return False
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        pass
    else:
        return False  # SECURITY: browsers refuse IP addresses as RP IDs; so do we (W2).
    labels = value.split(".")
    if len(labels) < 2 and value != "localhost":
        return False
    allowed = set("abcdefghijklmnopqrstuvwxyz0123456789-")
    return all(label and set(label) <= allowed and len(label) <= 63 for label in labels)


def origin_host(value: Any) -> str | None:
    """The host of an allowed WebAuthn origin, or ``None`` if ``value`` is not one (W2).

    An origin is ``https://host[:port]`` with nothing after it; ``http://`` is allowed for
    ``localhost`` alone, as browsers do.
    """
    if not isinstance(value, str):
        return None
    scheme, sep, rest = value.partition("://")
    if not sep or not rest or any(c in rest for c in "/?#@ \\") or rest != rest.lower():
        return None
    host, colon, port = rest.partition(":")
    if colon and not (port.isascii() and port.isdigit() and 0 < int(port) < 65536):
        return None
    if scheme == "https":
        return host or None
    # SECURITY: plain http is allowed for localhost only: anywhere else a network attacker
    # could serve the page the assertion is made on (W2).
    return host if scheme == "http" and host == "localhost" else None


def is_under_rp_id(host: str, rp_id: str) -> bool:
    """Whether ``rp_id`` is ``host`` or a registrable suffix of it, as WebAuthn requires."""
    return host == rp_id or host.endswith("." + rp_id)


URL_RULE = Rule(
    "E019",
    _is_url,
    "{name} must be a URL name or a path (a non-empty string), not {value!r}.",
    'For example "django_totp:verify" or "/2fa/verify/".',
)


# Built once: the middleware reads this setting on every verified request.
RECHECK_RULE = Rule(
    "E021",
    lambda v: _is_int(v, 0, 300),
    "{name} must be an integer from 0 to 300, not {value!r}.",
    "Use the default, 60: a reset ends a stolen session within this many seconds (R27).",
)


class Settings:
    """Typed access to the ``TOTP_*`` settings, each validated on every read."""

    @staticmethod
    def _get(name: str, default: T, *rules: Rule) -> T:
        value = getattr(settings, name, default)
        for rule in rules:
            if not rule.valid(value):
                raise InvalidSetting(rule, name, value)
        return cast(T, value)

    def errors(self) -> list[InvalidSetting]:
        """What is wrong with the current settings, one error per invalid setting."""
        found = []
        for name in sorted(n for n in dir(type(self)) if n.startswith("TOTP_")):
            try:
                getattr(self, name)
            except InvalidSetting as error:
                found.append(error)
        return found

    @property
    def TOTP_ISSUER(self) -> str:
        """The site's name in authenticator apps and e-mails; empty: see ``site_name()``."""
        rule = Rule(
            "E013", lambda v: isinstance(v, str), "{name} must be a string.", 'e.g. "Example Inc".'
        )
        return self._get("TOTP_ISSUER", "", rule)

    @property
    def TOTP_DIGITS(self) -> int:
        """Code length for new devices (6 to 8); existing devices keep theirs."""
        rule = Rule(
            "E005",
            lambda v: _is_int(v, 6, 8),
            "{name} must be 6, 7 or 8, not {value!r}.",
            "Use 6: every app supports it.",
        )
        return self._get("TOTP_DIGITS", 6, rule)

    @property
    def TOTP_PERIOD(self) -> int:
        """Seconds per time step for new devices; existing devices keep theirs."""
        rule = Rule(
            "E006",
            lambda v: _is_int(v, 15, 300),
            "{name} must be an integer from 15 to 300 seconds, not {value!r}.",
            "Use 30: the only period every app supports.",
        )
        return self._get("TOTP_PERIOD", 30, rule)

    @property
    def TOTP_TOLERANCE(self) -> int:
        """Time steps accepted either side of now to allow for clock drift (0 or 1)."""
        rule = Rule(
            "E007",
            lambda v: _is_int(v, 0, 1),
            "{name} must be 0 or 1, not {value!r}.",
            "Wider windows make codes guessable and replayable for longer (R8).",
        )
        return self._get("TOTP_TOLERANCE", 1, rule)

    @property
    def TOTP_REQUIRED_FOR(self) -> RequiredFor:
        """Who must enrol: "nobody", "staff" or "everyone". Enrolled users always verify."""
        rule = Rule(
            "E004",
            lambda v: v in REQUIRED_FOR_CHOICES,
            "{name} must be one of " + repr(REQUIRED_FOR_CHOICES) + ", not {value!r}.",
            'Use "nobody", "staff" or "everyone".',
        )
        return cast(RequiredFor, self._get("TOTP_REQUIRED_FOR", "nobody", rule))

    @property
    def TOTP_REQUIRED_PERMISSIONS(self) -> list[str]:
        """Permissions (``"app_label.codename"``) whose holders must enrol, besides the policy.

        For sites that grant their admin by permission rather than ``is_staff``, such as
        Wagtail (``"wagtailadmin.access_admin"``). Checked with ``user.has_perm``, so groups
        and backends count, and superusers hold every permission.
        """
        rule = Rule(
            "E023",
            lambda v: _is_list_of(v, _is_permission_name),
            "{name} must be a list of permission names like 'app_label.codename', not {value!r}.",
            'For example ["wagtailadmin.access_admin"]; mind the comma in a one-item tuple.',
        )
        return list(self._get("TOTP_REQUIRED_PERMISSIONS", [], rule))

    @property
    def TOTP_REQUIRED_GROUPS(self) -> list[str]:
        """Names of groups whose members must enrol, besides the policy."""
        rule = Rule(
            "E024",
            lambda v: _is_list_of(v, lambda g: isinstance(g, str) and bool(g)),
            "{name} must be a list of group names, not {value!r}.",
            'For example ["Editors", "Moderators"]; mind the comma in a one-item tuple.',
        )
        return list(self._get("TOTP_REQUIRED_GROUPS", [], rule))

    @property
    def TOTP_REQUIRED_CALLABLE(self) -> str:
        """Dotted path to a function ``(user) -> bool`` naming more users who must enrol.

        Empty: none. It is imported when first used; a path that does not import is an error
        there, not a silent "nobody" (R34).
        """
        rule = Rule(
            "E025",
            lambda v: isinstance(v, str) and (v == "" or "." in v),
            "{name} must be a dotted path to a function (user) -> bool, or '', not {value!r}.",
            'For example "myproject.security.must_use_2fa".',
        )
        return self._get("TOTP_REQUIRED_CALLABLE", "", rule)

    @property
    def TOTP_ENROLMENT_GRACE_DAYS(self) -> int:
        """Days a user the policy newly covers may go on without a device, reminded; 0: none.

        For rolling 2FA out to existing users. Counted from the first request on which the
        policy required a device of them; given once, never again after a reset.
        """
        rule = Rule(
            "E027",
            lambda v: _is_int(v, 0, 90),
            "{name} must be an integer from 0 to 90, not {value!r}.",
            "0 requires enrolment at once; 14 gives people two weeks to set up an app.",
        )
        return self._get("TOTP_ENROLMENT_GRACE_DAYS", 0, rule)

    @property
    def TOTP_EXEMPT_URLS(self) -> list[str]:
        """URL names (``"app:name"``) or path prefixes the middleware skips.

        A prefix matches whole path segments: ``"/api/health"`` is ``/api/health`` and what is
        below it, never ``/api/health-admin/``; ``"/api/public/"`` is what is below it.
        """
        rule = Rule(
            "E011",
            lambda v: _is_list_of(v, lambda u: isinstance(u, str) and bool(u)),
            "{name} must be a list of URL names or paths starting with '/', not {value!r}.",
            'For example ["health", "/api/public/"]; mind the comma in a one-item tuple.',
        )
        exact = Rule(
            "E020",
            lambda v: all(_is_exact_prefix(u) for u in v),
            "{name} holds '/' alone, or a path prefix with '//', '..', '?', '#' or whitespace: "
            "{value!r}.",
            'Name whole path segments, as in "/api/health" or "/api/public/".',
        )
        return list(self._get("TOTP_EXEMPT_URLS", [], rule, exact))

    @property
    def TOTP_VERIFY_URL(self) -> str:
        """URL name or path of the page that asks for a code."""
        return self._get("TOTP_VERIFY_URL", "django_totp:verify", URL_RULE)

    @property
    def TOTP_RECOVERY_URL(self) -> str:
        """URL name or path of the page that takes a recovery code instead of a code."""
        return self._get("TOTP_RECOVERY_URL", "django_totp:recovery", URL_RULE)

    @property
    def TOTP_SETUP_URL(self) -> str:
        """URL name or path of the enrolment page."""
        return self._get("TOTP_SETUP_URL", "django_totp:setup", URL_RULE)

    @property
    def TOTP_LOGOUT_URL(self) -> str:
        """URL name or path of the logout the 2FA pages offer; the package's own by default."""
        return self._get("TOTP_LOGOUT_URL", "django_totp:logout", URL_RULE)

    @property
    def TOTP_REDIRECT_URL(self) -> str:
        """Where to go after verifying or enrolling when there is no safe ``next``."""
        return self._get("TOTP_REDIRECT_URL", settings.LOGIN_REDIRECT_URL, URL_RULE)

    @property
    def TOTP_THROTTLE_FACTOR(self) -> float:
        """Back-off base in seconds: after n failures wait factor * 2**(n-1); 0 disables."""
        rule = Rule(
            "E009",
            lambda v: _is_number(v, 0),
            "{name} must be a number of seconds >= 0, not {value!r}.",
            "Use 1 for a 1, 2, 4, 8 ... second back-off.",
        )
        return self._get("TOTP_THROTTLE_FACTOR", 1, rule)

    @property
    def TOTP_MAX_FAILURES(self) -> int:
        """Consecutive failures after which a device locks until staff reset or unlock it."""
        rule = Rule(
            "E008",
            lambda v: _is_int(v, 1, 100),
            "{name} must be an integer from 1 to 100, not {value!r}.",
            "Use 20; more than 100 guesses weakens a 6-digit code too much (NIST SP 800-63B).",
        )
        return self._get("TOTP_MAX_FAILURES", 20, rule)

    @property
    def TOTP_SETUP_TIMEOUT(self) -> int:
        """Seconds a started, unconfirmed enrolment stays valid."""
        return self._get("TOTP_SETUP_TIMEOUT", 600, _seconds())

    @property
    def TOTP_PENDING_TIMEOUT(self) -> int:
        """Seconds between the password step and the code step before the login is dropped."""
        return self._get("TOTP_PENDING_TIMEOUT", 600, _seconds())

    @property
    def TOTP_STEP_UP_SECONDS(self) -> int:
        """How recently a code must have been typed in this session to change 2FA (R5, R28)."""
        return self._get("TOTP_STEP_UP_SECONDS", 300, _seconds())

    @property
    def TOTP_RECHECK_SECONDS(self) -> int:
        """How long a verified session is trusted without a query (R27); 0 checks every request.

        After it, one indexed query confirms that the device that verified the session still
        exists, so a reset or removal ends a session within this time whatever the session
        engine, even if deleting the session from the store raced with its own requests.
        """
        return self._get("TOTP_RECHECK_SECONDS", 60, RECHECK_RULE)

    @property
    def TOTP_REMEMBER_DAYS(self) -> int:
        """Days a browser may skip the code step after "don't ask again"; 0 turns it off."""
        rule = Rule(
            "E015",
            lambda v: _is_int(v, 0, 365),
            "{name} must be an integer from 0 to 365, not {value!r}.",
            "0 turns 'remember this browser' off; 30 is common.",
        )
        return self._get("TOTP_REMEMBER_DAYS", 0, rule)

    @property
    def TOTP_REMEMBER_COOKIE_NAME(self) -> str:
        """Name of the signed "remember this browser" cookie."""
        rule = Rule(
            "E016",
            lambda v: (
                isinstance(v, str)
                and bool(v)
                and v not in (settings.SESSION_COOKIE_NAME, settings.CSRF_COOKIE_NAME)
            ),
            "{name} must be a non-empty string unlike the session and CSRF cookie names, "
            "not {value!r}.",
            'Use the default, "totp_remember".',
        )
        return self._get("TOTP_REMEMBER_COOKIE_NAME", "totp_remember", rule)

    @property
    def TOTP_REMEMBER_FORGET_ON_RECOVERY(self) -> bool:
        """Whether signing in with a recovery code forgets all of the user's remembered browsers."""
        rule = _boolean(
            "E017", "True makes a recovery-code login forget all of the user's remembered browsers."
        )
        return self._get("TOTP_REMEMBER_FORGET_ON_RECOVERY", False, rule)

    @property
    def TOTP_ENCRYPTION_KEYS(self) -> list[str]:
        """Keys for secrets at rest, newest first; empty means derive from SECRET_KEY(s)."""
        # SECURITY: the message never shows the value: these are keys.
        rule = Rule(
            "E012",
            lambda v: _is_list_of(v, lambda k: isinstance(k, str) and len(k) >= 32),
            "{name} must be a list of strings of at least 32 characters.",
            "Generate one with: python -c 'import secrets; print(secrets.token_urlsafe(48))'.",
        )
        return list(self._get("TOTP_ENCRYPTION_KEYS", [], rule))

    @property
    def TOTP_NOTIFY_FAILURES_AFTER(self) -> int:
        """Consecutive wrong codes for a device after which its user is e-mailed, once a streak."""
        rule = Rule(
            "E022",
            lambda v: _is_int(v, 1, 100),
            "{name} must be an integer from 1 to 100, not {value!r}.",
            "Use 5: the user hears of guessing long before the device locks (R35).",
        )
        return self._get("TOTP_NOTIFY_FAILURES_AFTER", 5, rule)

    @property
    def TOTP_NOTIFY_BY_EMAIL(self) -> bool:
        """Whether users get an e-mail when their 2FA changes (see ``notifications``)."""
        rule = _boolean("E018", "Leave it True so that users hear about changes to their 2FA.")
        return self._get("TOTP_NOTIFY_BY_EMAIL", True, rule)

    @property
    def TOTP_WEBAUTHN(self) -> bool:
        """Whether security keys and passkeys (WebAuthn) may be added and used.

        Needs the ``webauthn`` extra (``pip install django-totp-2fa[webauthn]``) and
        ``TOTP_WEBAUTHN_RP_ID`` and ``TOTP_WEBAUTHN_ORIGINS``.
        """
        rule = _boolean("E030", "True lets users add security keys and passkeys.")
        return self._get("TOTP_WEBAUTHN", False, rule)

    @property
    def TOTP_PASSKEY_SIGN_IN(self) -> bool:
        """Whether users may sign in with a passkey alone: no username, password or code.

        Needs ``TOTP_WEBAUTHN`` (check ``E039``). A passkey is two factors in itself (the
        device, and the PIN or biometrics that unlock it), so such a sign-in is a verified
        session, recorded against the passkey like a code's (W8-W11).
        """
        rule = _boolean("E038", "True shows the passkey sign-in button and asks for passkeys.")
        return self._get("TOTP_PASSKEY_SIGN_IN", False, rule)

    @property
    def TOTP_WEBAUTHN_RP_ID(self) -> str:
        """The WebAuthn relying party ID: the site's domain (e.g. ``"example.com"``).

        Never taken from the request (W2). Changing it orphans every registered key.
        """
        rule = Rule(
            "E031",
            lambda v: v == "" or is_rp_id(v),
            "{name} must be a lower-case domain name such as 'example.com', not an IP "
            "address, a public suffix or a URL: {value!r}.",
            "Browsers refuse IP addresses; use 'localhost' for development. Changing it "
            "later orphans every registered security key.",
        )
        return self._get("TOTP_WEBAUTHN_RP_ID", "", rule)

    @property
    def TOTP_WEBAUTHN_RP_NAME(self) -> str:
        """The site's name shown by the browser when a key is added; empty: ``site_name()``."""
        rule = Rule(
            "E032",
            lambda v: isinstance(v, str) and len(v) <= 64,
            "{name} must be a string of at most 64 characters, not {value!r}.",
            'For example "Example Inc".',
        )
        return self._get("TOTP_WEBAUTHN_RP_NAME", "", rule)

    @property
    def TOTP_WEBAUTHN_ORIGINS(self) -> list[str]:
        """The exact origins (``"https://example.com"``) WebAuthn ceremonies may come from.

        Each must be https (``http://localhost[:port]`` excepted) and its host must be
        ``TOTP_WEBAUTHN_RP_ID`` or below it.
        """
        rule = Rule(
            "E033",
            lambda v: _is_list_of(v, lambda o: origin_host(o) is not None),
            "{name} must be a list of origins such as 'https://example.com' (https, or "
            "http://localhost[:port]; no path), not {value!r}.",
            'For example ["https://example.com", "https://www.example.com"]; mind the comma '
            "in a one-item tuple.",
        )
        # Judged against a valid RP ID only; TOTP_WEBAUTHN_RP_ID's own rule reports the rest.
        rp_id = getattr(settings, "TOTP_WEBAUTHN_RP_ID", "")
        under = Rule(
            "E034",
            lambda v: (
                not is_rp_id(rp_id) or all(is_under_rp_id(origin_host(o) or "", rp_id) for o in v)
            ),
            "{name} has an origin whose host is not TOTP_WEBAUTHN_RP_ID or below it: {value!r}.",
            "The RP ID must be each origin's host or a registrable suffix of it, or browsers "
            "refuse every ceremony.",
        )
        return list(self._get("TOTP_WEBAUTHN_ORIGINS", [], rule, under))

    @property
    def TOTP_WEBAUTHN_USER_VERIFICATION(self) -> UserVerification:
        """Whether keys must verify their user (PIN, biometrics): "discouraged", "preferred" or
        "required". Only "required" refuses an assertion without it (W5)."""
        rule = Rule(
            "E035",
            lambda v: v in USER_VERIFICATION_CHOICES,
            "{name} must be one of " + repr(USER_VERIFICATION_CHOICES) + ", not {value!r}.",
            'Use "preferred", or "required" to make every key ask for a PIN or biometrics.',
        )
        return cast(
            UserVerification, self._get("TOTP_WEBAUTHN_USER_VERIFICATION", "preferred", rule)
        )


conf = Settings()


def has_wildcard(host: str) -> bool:
    """Whether an ``ALLOWED_HOSTS`` entry matches more than one name ("*", ".example.com")."""
    return "*" in host or host.startswith(".")


def site_name() -> str:
    """The site's name in otpauth URIs (the issuer) and in e-mail subjects (R3, R33).

    ``TOTP_ISSUER``; when empty, the first ``ALLOWED_HOSTS`` entry other than ``"*"`` or an
    IPv6 literal, without a leading dot; when there is none, ``""`` (authenticator apps then
    show the account name alone, and subjects have no prefix). Check W008 warns about the last
    two cases.
    """
    # SECURITY: never the request's Host header, which a wildcard ALLOWED_HOSTS lets anyone
    # choose: it would name a phisher's domain in a genuine e-mail or authenticator entry (R33).
    if conf.TOTP_ISSUER:
        return conf.TOTP_ISSUER
    hosts = [host.lstrip(".") for host in settings.ALLOWED_HOSTS if "*" not in host]
    return next((host for host in hosts if host and not _is_ipv6_literal(host)), "")


def _is_ipv6_literal(host: str) -> bool:
    """Whether ``host`` is ``[::1]``-shaped: the label's colon rule would leave ``[1]`` of it."""
    try:
        return ipaddress.ip_address(host.strip("[]")).version == 6
    except ValueError:
        return False
