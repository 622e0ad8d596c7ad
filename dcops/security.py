"""Secrets at rest: password hashing (argon2), API token hashing, and credential encryption.

API tokens carry 256 bits of randomness, so a single SHA-256 is the right hash for
them (a slow hash would add tens of milliseconds to every request without making a
random token any harder to guess). Passwords are low-entropy and get argon2id.
Credential secrets are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under the
key in the secret-key file, which is created with mode 0600 on first use.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.fernet import Fernet, InvalidToken

from dcops.config import get_settings
from dcops.exceptions import ConfigurationError

TOKEN_PREFIX = "dcops_"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    """Hash ``password`` with argon2id."""
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """Tell whether ``password`` matches ``password_hash``."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """Return a new random API token (shown to its owner once, stored only hashed)."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    """Return the at-rest digest of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def ensure_secret_key(path: Path) -> bytes:
    """Read the Fernet key at ``path``, creating it with mode 0600 if absent."""
    if not path.exists():
        from dcops.database import private_dir

        private_dir(path.parent)
        key = Fernet.generate_key()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
        return key
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        raise ConfigurationError(
            f"secret key file {path} is readable by others (mode {mode:o}); run: chmod 600 {path}"
        )
    return path.read_bytes().strip()


@lru_cache(maxsize=4)
def _fernet(path: str) -> Fernet:
    try:
        return Fernet(ensure_secret_key(Path(path)))
    except ValueError as exc:
        raise ConfigurationError(f"secret key file {path} does not hold a valid key") from exc


def _current_fernet() -> Fernet:
    key_file = get_settings().secret_key_file
    assert key_file is not None
    return _fernet(str(key_file))


def encrypt_secrets(values: dict[str, Any]) -> bytes:
    """Encrypt a mapping of secret fields for storage."""
    return _current_fernet().encrypt(json.dumps(values, sort_keys=True).encode())


def decrypt_secrets(blob: bytes) -> dict[str, Any]:
    """Decrypt what :func:`encrypt_secrets` stored."""
    try:
        return json.loads(_current_fernet().decrypt(blob))
    except InvalidToken as exc:
        raise ConfigurationError(
            "a stored credential cannot be decrypted: the secret key file changed since it was saved"
        ) from exc
