"""A small site that wires django_totp into Django's built-in authentication."""
