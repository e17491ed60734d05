"""An allauth MFA adapter that encrypts, as a site's own adapter may (tests/imports)."""

from allauth.mfa.adapter import DefaultMFAAdapter


def unreverse(text: str) -> str:
    return text[::-1]


def refuse(text: str) -> str:
    raise ValueError("not a token of this key")


class ReversingAdapter(DefaultMFAAdapter):
    """Not encryption: enough to show that the import needs the adapter's decrypt."""

    def encrypt(self, text: str) -> str:
        return text[::-1]

    def decrypt(self, encrypted_text: str) -> str:
        return unreverse(encrypted_text)
