"""The one place django-totp reads its settings.

Every value is read from ``django.conf.settings`` on each access, so ``override_settings`` works
and nothing is read at import time. Values are validated by the system checks in ``checks.py``.
"""

from __future__ import annotations

from typing import Literal

from django.conf import settings

RequiredFor = Literal["nobody", "staff", "everyone"]
REQUIRED_FOR_CHOICES: tuple[RequiredFor, ...] = ("nobody", "staff", "everyone")


class Settings:
    @property
    def TOTP_ISSUER(self) -> str:
        """The site's name in authenticator apps and e-mails; empty: see ``site_name()``."""
        return getattr(settings, "TOTP_ISSUER", "")

    @property
    def TOTP_DIGITS(self) -> int:
        """Code length for new devices (6 or 8); existing devices keep theirs."""
        return getattr(settings, "TOTP_DIGITS", 6)

    @property
    def TOTP_PERIOD(self) -> int:
        """Seconds per time step for new devices; existing devices keep theirs."""
        return getattr(settings, "TOTP_PERIOD", 30)

    @property
    def TOTP_TOLERANCE(self) -> int:
        """Time steps accepted either side of now to allow for clock drift (0 or 1)."""
        return getattr(settings, "TOTP_TOLERANCE", 1)

    @property
    def TOTP_REQUIRED_FOR(self) -> RequiredFor:
        """Who must enrol: "nobody", "staff" or "everyone". Enrolled users always verify."""
        return getattr(settings, "TOTP_REQUIRED_FOR", "nobody")

    @property
    def TOTP_EXEMPT_URLS(self) -> list[str]:
        """URL names (``"app:name"``) or path prefixes (``"/api/health"``) the middleware skips."""
        return list(getattr(settings, "TOTP_EXEMPT_URLS", []))

    @property
    def TOTP_VERIFY_URL(self) -> str:
        """URL name or path of the page that asks for a code."""
        return getattr(settings, "TOTP_VERIFY_URL", "django_totp:verify")

    @property
    def TOTP_RECOVERY_URL(self) -> str:
        """URL name or path of the page that takes a recovery code instead of a code."""
        return getattr(settings, "TOTP_RECOVERY_URL", "django_totp:recovery")

    @property
    def TOTP_SETUP_URL(self) -> str:
        """URL name or path of the enrolment page."""
        return getattr(settings, "TOTP_SETUP_URL", "django_totp:setup")

    @property
    def TOTP_LOGOUT_URL(self) -> str:
        """URL name or path of the site's logout view, offered on the 2FA pages."""
        return getattr(settings, "TOTP_LOGOUT_URL", "logout")

    @property
    def TOTP_REDIRECT_URL(self) -> str:
        """Where to go after verifying or enrolling when there is no safe ``next``."""
        return getattr(settings, "TOTP_REDIRECT_URL", settings.LOGIN_REDIRECT_URL)

    @property
    def TOTP_THROTTLE_FACTOR(self) -> float:
        """Back-off base in seconds: after n failures wait factor * 2**(n-1); 0 disables."""
        return getattr(settings, "TOTP_THROTTLE_FACTOR", 1)

    @property
    def TOTP_MAX_FAILURES(self) -> int:
        """Consecutive failures after which a device locks until staff reset or unlock it."""
        return getattr(settings, "TOTP_MAX_FAILURES", 20)

    @property
    def TOTP_SETUP_TIMEOUT(self) -> int:
        """Seconds a started, unconfirmed enrolment stays valid."""
        return getattr(settings, "TOTP_SETUP_TIMEOUT", 600)

    @property
    def TOTP_PENDING_TIMEOUT(self) -> int:
        """Seconds between the password step and the code step before the login is dropped."""
        return getattr(settings, "TOTP_PENDING_TIMEOUT", 600)

    @property
    def TOTP_STEP_UP_SECONDS(self) -> int:
        """How recent a verification must be to manage 2FA (devices, codes) without a new one."""
        return getattr(settings, "TOTP_STEP_UP_SECONDS", 300)

    @property
    def TOTP_REMEMBER_DAYS(self) -> int:
        """Days a browser may skip the code step after "don't ask again"; 0 turns it off."""
        return getattr(settings, "TOTP_REMEMBER_DAYS", 0)

    @property
    def TOTP_REMEMBER_COOKIE_NAME(self) -> str:
        """Name of the signed "remember this browser" cookie."""
        return getattr(settings, "TOTP_REMEMBER_COOKIE_NAME", "totp_remember")

    @property
    def TOTP_REMEMBER_FORGET_ON_RECOVERY(self) -> bool:
        """Whether signing in with a recovery code forgets all of the user's remembered browsers."""
        return getattr(settings, "TOTP_REMEMBER_FORGET_ON_RECOVERY", False)

    @property
    def TOTP_ENCRYPTION_KEYS(self) -> list[str]:
        """Keys for secrets at rest, newest first; empty means derive from SECRET_KEY(s)."""
        return list(getattr(settings, "TOTP_ENCRYPTION_KEYS", []))

    @property
    def TOTP_NOTIFY_FAILURES_AFTER(self) -> int:
        """Consecutive wrong codes for a device after which its user is e-mailed, once a streak."""
        return getattr(settings, "TOTP_NOTIFY_FAILURES_AFTER", 5)

    @property
    def TOTP_NOTIFY_BY_EMAIL(self) -> bool:
        """Whether users get an e-mail when their 2FA changes (see ``notifications``)."""
        return getattr(settings, "TOTP_NOTIFY_BY_EMAIL", True)


conf = Settings()


def has_wildcard(host: str) -> bool:
    """Whether an ``ALLOWED_HOSTS`` entry matches more than one name ("*", ".example.com")."""
    return "*" in host or host.startswith(".")


def site_name() -> str:
    """The site's name in otpauth URIs (the issuer) and in e-mail subjects (R3, R33).

    ``TOTP_ISSUER``; when empty, the first ``ALLOWED_HOSTS`` entry other than ``"*"``, without
    a leading dot; when there is none, ``""`` (authenticator apps then show the account name
    alone, and subjects have no prefix). Check W006 warns about the last two cases.
    """
    # SECURITY: never the request's Host header, which a wildcard ALLOWED_HOSTS lets anyone
    # choose: it would name a phisher's domain in a genuine e-mail or authenticator entry (R33).
    if conf.TOTP_ISSUER:
        return conf.TOTP_ISSUER
    hosts = [host.lstrip(".") for host in settings.ALLOWED_HOSTS if "*" not in host]
    return next((host for host in hosts if host), "")
