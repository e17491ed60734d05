"""WebAuthn ceremonies as pure functions around py_webauthn: options out, responses checked.

No models and no session here: ``ceremonies`` stores challenges, locks rows and records what
these functions return. The library (the ``webauthn`` extra) is imported only when a function
runs, so the package works without it while ``TOTP_WEBAUTHN`` is off.

Everything a browser sends is hostile until checked: ``parse`` bounds its size and types before
the library sees it, and every failure, whatever raised it, becomes ``WebAuthnError`` with a
short reason for the log (W7).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from .conf import UserVerification, conf, site_name

# Far above any real response (an attestation with a certificate chain is a few kB).
MAX_RESPONSE_CHARS = 64 * 1024
# A credential id is at most 1023 bytes (WebAuthn Level 3, 5.1).
MAX_CREDENTIAL_ID_BYTES = 1023
# How long the browser gives the user, in milliseconds; the server's own limit is
# ``CHALLENGE_SECONDS`` in ``session``.
TIMEOUT_MS = 120_000
KNOWN_TRANSPORTS = frozenset({"usb", "nfc", "ble", "internal", "hybrid", "cable", "smart-card"})


class WebAuthnError(Exception):
    """A response that does not verify; ``reason`` says why, for the log (never the data)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def library_installed() -> bool:
    """Whether py_webauthn can be imported (check ``django_totp.E036``)."""
    try:
        import webauthn  # noqa: F401
    except ImportError:
        return False
    return True


@dataclass(frozen=True)
class RelyingParty:
    """The relying party, from settings only: never from ``Host`` or ``Origin`` (W2)."""

    id: str
    name: str
    origins: tuple[str, ...]
    user_verification: UserVerification

    @property
    def requires_user_verification(self) -> bool:
        return self.user_verification == "required"


def relying_party() -> RelyingParty:
    """The configured relying party; ``ImproperlyConfigured`` when WebAuthn is off or unset."""
    if not conf.TOTP_WEBAUTHN:
        raise ImproperlyConfigured("TOTP_WEBAUTHN is False: security keys are switched off.")
    rp_id, origins = conf.TOTP_WEBAUTHN_RP_ID, conf.TOTP_WEBAUTHN_ORIGINS
    if not rp_id or not origins:
        raise ImproperlyConfigured(
            "TOTP_WEBAUTHN needs TOTP_WEBAUTHN_RP_ID and TOTP_WEBAUTHN_ORIGINS (check E037)."
        )
    return RelyingParty(
        id=rp_id,
        name=conf.TOTP_WEBAUTHN_RP_NAME or site_name() or rp_id,
        origins=tuple(origins),
        user_verification=conf.TOTP_WEBAUTHN_USER_VERIFICATION,
    )


@dataclass(frozen=True)
class KeyRef:
    """A registered credential as the options name it: its id and how it is reached."""

    credential_id: bytes
    transports: Sequence[str] = ()


@dataclass(frozen=True)
class Options:
    """Options for the browser (JSON for ``json_script``) and the challenge to keep."""

    json: str
    challenge: bytes


def b64url_decode(value: str) -> bytes:
    """Base64url without padding, strictly: ``ValueError`` for anything else."""
    if not value.isascii() or any(c in value for c in "+/="):
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
    except binascii.Error as error:
        raise ValueError("not base64url") from error


def _descriptors(keys: Sequence[KeyRef]) -> list[Any]:
    from webauthn.helpers.structs import AuthenticatorTransport, PublicKeyCredentialDescriptor

    known = {t.value for t in AuthenticatorTransport}
    return [
        PublicKeyCredentialDescriptor(
            id=key.credential_id,
            transports=[AuthenticatorTransport(t) for t in key.transports if t in known] or None,
        )
        for key in keys
    ]


def registration_options(
    rp: RelyingParty,
    *,
    user_handle: bytes,
    user_name: str,
    display_name: str,
    exclude: Sequence[KeyRef],
    discoverable: bool = False,
) -> Options:
    """Options for ``navigator.credentials.create()``: attestation "none", the user's keys
    excluded, so one authenticator cannot be registered twice (W4).

    ``discoverable`` asks for a passkey (``residentKey: "preferred"``), which can sign in with
    no username (``TOTP_PASSKEY_SIGN_IN``), while a key that cannot be one (an old U2F key)
    still registers as a second factor; otherwise a discoverable credential is discouraged,
    sparing a security key's few slots.
    """
    import webauthn
    from webauthn.helpers.structs import (
        AttestationConveyancePreference,
        AuthenticatorSelectionCriteria,
        ResidentKeyRequirement,
        UserVerificationRequirement,
    )

    options = webauthn.generate_registration_options(
        rp_id=rp.id,
        rp_name=rp.name,
        user_id=user_handle,
        user_name=user_name or "user",
        user_display_name=display_name or user_name or "user",
        timeout=TIMEOUT_MS,
        attestation=AttestationConveyancePreference.NONE,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=(
                ResidentKeyRequirement.PREFERRED
                if discoverable
                else ResidentKeyRequirement.DISCOURAGED
            ),
            user_verification=UserVerificationRequirement(rp.user_verification),
        ),
        exclude_credentials=_descriptors(exclude),
    )
    return Options(_with_cred_props(webauthn.options_to_json(options)), options.challenge)


def _with_cred_props(options_json: str) -> str:
    """Ask the browser whether the key is discoverable (the ``credProps`` extension)."""
    data = json.loads(options_json)
    data["extensions"] = {"credProps": True}
    return json.dumps(data)


def authentication_options(rp: RelyingParty, *, allow: Sequence[KeyRef]) -> Options:
    """Options for ``navigator.credentials.get()`` naming the user's keys and transports.

    With ``allow`` empty, any discoverable credential of this RP may answer (passkey sign-in).
    """
    import webauthn
    from webauthn.helpers.structs import UserVerificationRequirement

    options = webauthn.generate_authentication_options(
        rp_id=rp.id,
        timeout=TIMEOUT_MS,
        allow_credentials=_descriptors(allow),
        user_verification=UserVerificationRequirement(rp.user_verification),
    )
    return Options(webauthn.options_to_json(options), options.challenge)


@dataclass(frozen=True)
class Response:
    """A browser's ``PublicKeyCredential.toJSON()``, bounded and type-checked."""

    data: dict[str, Any]
    credential_id: bytes


REGISTRATION_FIELDS = ("clientDataJSON", "attestationObject")
ASSERTION_FIELDS = ("clientDataJSON", "authenticatorData", "signature")


def parse(raw: Any, fields: Sequence[str]) -> Response:
    """Check the shape of a response before anything else reads it (W7).

    ``fields`` are the members of its ``response`` that must be strings
    (``REGISTRATION_FIELDS`` or ``ASSERTION_FIELDS``).
    """
    if not isinstance(raw, str) or not raw or len(raw) > MAX_RESPONSE_CHARS:
        raise WebAuthnError("size")
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as error:
        raise WebAuthnError("json") from error
    if not isinstance(data, dict) or data.get("type") != "public-key":
        raise WebAuthnError("shape")
    response = data.get("response")
    if not isinstance(response, dict) or not all(
        isinstance(response.get(field), str) for field in fields
    ):
        raise WebAuthnError("shape")
    if response.get("userHandle") is not None and not isinstance(response["userHandle"], str):
        raise WebAuthnError("shape")
    raw_id, id_ = data.get("rawId"), data.get("id")
    if not isinstance(raw_id, str) or raw_id != id_:
        raise WebAuthnError("id")
    try:
        credential_id = b64url_decode(raw_id)
    except ValueError as error:
        raise WebAuthnError("id") from error
    if not 0 < len(credential_id) <= MAX_CREDENTIAL_ID_BYTES:
        raise WebAuthnError("id")
    return Response(data, credential_id)


@dataclass(frozen=True)
class NewKey:
    """What a verified registration gives to store."""

    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backup_eligible: bool
    backup_state: bool
    transports: tuple[str, ...]
    discoverable: bool | None
    user_verified: bool


def verify_registration(rp: RelyingParty, response: Response, challenge: bytes) -> NewKey:
    """Check an attestation against the challenge, the RP ID hash and the origins."""
    import webauthn
    from webauthn.helpers.structs import CredentialDeviceType

    try:
        verified = webauthn.verify_registration_response(
            credential=response.data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            require_user_verification=rp.requires_user_verification,
        )
    # SECURITY: hostile CBOR and JSON reach parsers that raise more than the library's own
    # exceptions; any of them is a refusal, never a 500 (W7).
    except Exception as error:
        raise WebAuthnError(type(error).__name__) from error
    transports = response.data["response"].get("transports")
    extensions = response.data.get("clientExtensionResults")
    cred_props = extensions.get("credProps") if isinstance(extensions, dict) else None
    rk = cred_props.get("rk") if isinstance(cred_props, dict) else None
    return NewKey(
        credential_id=verified.credential_id,
        public_key=verified.credential_public_key,
        sign_count=verified.sign_count,
        aaguid=str(verified.aaguid),
        backup_eligible=verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE,
        backup_state=verified.credential_backed_up,
        transports=tuple(
            sorted({t for t in transports if t in KNOWN_TRANSPORTS})
            if isinstance(transports, list)
            else ()
        ),
        discoverable=rk if isinstance(rk, bool) else None,
        user_verified=verified.user_verified,
    )


@dataclass(frozen=True)
class Assertion:
    """What a verified assertion tells: the authenticator's counter and backup state."""

    sign_count: int
    backup_state: bool
    user_verified: bool


def verify_assertion(
    rp: RelyingParty, response: Response, challenge: bytes, public_key: bytes
) -> Assertion:
    """Check an assertion's signature, challenge, RP ID hash, origin and user verification.

    The counter is not judged here: ``counter_regressed`` does that under the caller's row
    lock, after the signature has proved the response came from the key.
    """
    import webauthn

    try:
        verified = webauthn.verify_authentication_response(
            credential=response.data,
            expected_challenge=challenge,
            expected_rp_id=rp.id,
            expected_origin=list(rp.origins),
            credential_public_key=public_key,
            # 0 leaves the counter to counter_regressed, which can tell a clone from a forgery.
            credential_current_sign_count=0,
            require_user_verification=rp.requires_user_verification,
        )
    except Exception as error:  # as in verify_registration (W7)
        raise WebAuthnError(type(error).__name__) from error
    return Assertion(
        sign_count=verified.new_sign_count,
        backup_state=verified.credential_backed_up,
        user_verified=verified.user_verified,
    )


@dataclass(frozen=True)
class AttestedKey:
    """A credential as the authenticator data of its registration gives it (``totp_import``)."""

    rp_id_hash: bytes
    credential_id: bytes
    public_key: bytes
    sign_count: int
    aaguid: str
    backup_eligible: bool
    backup_state: bool


def read_attestation(attestation_object: bytes) -> AttestedKey:
    """The credential an attestation object registered, with the RP ID hash it was made for.

    Nothing is verified here: another package verified it when the key was registered; this
    only reads what it stored. ``WebAuthnError`` when it holds no usable credential.
    """
    from webauthn.helpers import parse_attestation_object

    try:
        auth_data = parse_attestation_object(attestation_object).auth_data
        attested = auth_data.attested_credential_data
    # Stored bytes of another package are as untrusted as a browser's (W7).
    except Exception as error:
        raise WebAuthnError(type(error).__name__) from error
    if attested is None:
        raise WebAuthnError("no_attested_credential")
    check_public_key(attested.credential_public_key)  # its own reason when the key is unusable
    return AttestedKey(
        rp_id_hash=auth_data.rp_id_hash,
        credential_id=attested.credential_id,
        public_key=attested.credential_public_key,
        sign_count=auth_data.sign_count,
        aaguid=str(uuid.UUID(bytes=attested.aaguid)),
        backup_eligible=auth_data.flags.be,
        backup_state=auth_data.flags.bs,
    )


def check_public_key(public_key: bytes) -> None:
    """``WebAuthnError`` unless ``public_key`` is a COSE key an assertion can be checked with."""
    from webauthn.helpers import decode_credential_public_key

    try:
        decode_credential_public_key(public_key)
    except Exception as error:  # as in verify_registration (W7)
        raise WebAuthnError(type(error).__name__) from error


def rp_id_hash(rp_id: str) -> bytes:
    """What authenticator data carries for ``rp_id`` (WebAuthn 6.1: its SHA-256)."""
    return hashlib.sha256(rp_id.encode()).digest()


def counter_regressed(stored: int, received: int) -> bool:
    """Whether a signed counter shows a cloned key (W3).

    A counter must rise; 0 and 0 is an authenticator that does not count (synced passkeys),
    which is allowed.
    """
    return (stored > 0 or received > 0) and received <= stored
