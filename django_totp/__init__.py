"""TOTP two-factor authentication for Django."""
