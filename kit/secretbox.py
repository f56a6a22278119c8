"""Encryption of secrets cached in Redis (tokens, settings values)."""

from __future__ import annotations

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = ["InvalidToken", "SecretBox", "secret_box"]


class SecretBox:
    """Fernet encryption with a key derived (HKDF-SHA256, fixed info label) from settings.secret_key,
    for secrets cached in Redis.

    Use it for anything secret that goes to Redis (tokens, settings values). `open` raises
    `InvalidToken` for data sealed with another key: treat that as a cache miss.
    """

    _INFO = b"regos-gateway/redis-secretbox/v1"

    def __init__(self, secret_key: bytes) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=self._INFO).derive(secret_key)
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def open(self, token: bytes) -> bytes:
        return self._fernet.decrypt(token)


@cache
def secret_box(secret_key: bytes) -> SecretBox:
    """A cached `SecretBox`: HKDF runs once per key and process, not once per call."""
    return SecretBox(secret_key)
