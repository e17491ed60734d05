"""A test-only software authenticator: real WebAuthn responses, for real verification.

An EC P-256 key (``cryptography``) and CBOR (``cbor2``) make what a browser and a security key
send back: an attestation of format "none" for ``navigator.credentials.create()`` and a signed
assertion for ``navigator.credentials.get()``, as ``PublicKeyCredential.toJSON()`` gives them.
Every field the relying party checks can be got wrong on purpose (origin, RP ID, challenge,
user presence and verification, counter), so tests attack py_webauthn and our services with
no mocks.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import os
import struct
from dataclasses import dataclass, field

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

ORIGIN = "https://example.com"
RP_ID = "example.com"

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class SoftAuthenticator:
    """One credential on one authenticator.

    ``counting=False`` is an authenticator that keeps its counter at 0 (synced passkeys).
    ``user_verifying=False`` is a key without a PIN or biometrics: it never sets UV.
    """

    counting: bool = True
    user_verifying: bool = True
    backup_eligible: bool = False
    transports: tuple[str, ...] = ("usb", "nfc")
    aaguid: bytes = bytes(16)
    credential_id: bytes = field(default_factory=lambda: os.urandom(32))
    key: ec.EllipticCurvePrivateKey = field(
        default_factory=lambda: ec.generate_private_key(ec.SECP256R1())
    )
    counter: int = 0
    user_handle: bytes | None = None

    def clone(self) -> SoftAuthenticator:
        """A copy of the key, with the counter it had when copied."""
        twin = copy.copy(self)
        return twin

    def cose_public_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        return cbor2.dumps(
            {
                1: 2,  # kty: EC2
                3: -7,  # alg: ES256
                -1: 1,  # crv: P-256
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )

    def _flags(self, *, present: bool, verified: bool | None) -> int:
        flags = UP if present else 0
        if verified if verified is not None else self.user_verifying:
            flags |= UV
        if self.backup_eligible:
            flags |= BE | BS
        return flags

    def _client_data(self, kind: str, challenge: str, origin: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": origin, "crossOrigin": False}
        ).encode()

    def create(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        present: bool = True,
        verified: bool | None = None,
        resident: bool | None = False,
    ) -> str:
        """The JSON of a registration response to ``options_json`` (attestation "none")."""
        options = json.loads(options_json)
        self.user_handle = unb64url(options["user"]["id"])
        rp_hash = hashlib.sha256((rp_id or options["rp"]["id"]).encode()).digest()
        if self.counting:
            self.counter += 1
        attested = (
            self.aaguid
            + struct.pack(">H", len(self.credential_id))
            + self.credential_id
            + self.cose_public_key()
        )
        flags = self._flags(present=present, verified=verified) | AT
        auth_data = rp_hash + bytes([flags]) + struct.pack(">I", self.counter) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        extensions = {} if resident is None else {"credProps": {"rk": resident}}
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "attestationObject": b64url(attestation),
                    "transports": list(self.transports),
                    "publicKeyAlgorithm": -7,
                },
                "clientExtensionResults": extensions,
            }
        )

    def get(
        self,
        options_json: str,
        *,
        origin: str = ORIGIN,
        rp_id: str | None = None,
        present: bool = True,
        verified: bool | None = None,
        challenge: str | None = None,
    ) -> str:
        """The JSON of an assertion answering ``options_json``; the counter rises first."""
        options = json.loads(options_json)
        rp_hash = hashlib.sha256((rp_id or options["rpId"]).encode()).digest()
        if self.counting:
            self.counter += 1
        flags = self._flags(present=present, verified=verified)
        auth_data = rp_hash + bytes([flags]) + struct.pack(">I", self.counter)
        client_data = self._client_data("webauthn.get", challenge or options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        signature = self.key.sign(signed, ec.ECDSA(hashes.SHA256()))
        return json.dumps(
            {
                "id": b64url(self.credential_id),
                "rawId": b64url(self.credential_id),
                "type": "public-key",
                "authenticatorAttachment": "cross-platform",
                "response": {
                    "clientDataJSON": b64url(client_data),
                    "authenticatorData": b64url(auth_data),
                    "signature": b64url(signature),
                    "userHandle": b64url(self.user_handle) if self.user_handle else None,
                },
                "clientExtensionResults": {},
            }
        )
