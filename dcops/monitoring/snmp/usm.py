"""SNMPv3 User-based Security Model: keys, authentication and privacy.

- RFC 3414: password-to-key (1 MB of repeated password through the hash) and key localisation,
  HMAC-MD5-96 and HMAC-SHA-96, DES-CBC privacy;
- RFC 7860: HMAC-SHA-2 (224/256/384/512 with 128/192/256/384-bit truncation);
- RFC 3826: AES-128-CFB; AES-192/256 with the localised key extended as net-snmp's "AES-192"/"AES-256"
  do it (draft-blumenthal-aes-usm-04: Kul || H(Kul) || H(Kul || H(Kul)) ...).
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from functools import lru_cache

# cryptography >= 43 keeps (Triple)DES and CFB, which SNMPv3's DES and AES privacy need, in its decrepit modules
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.decrepit.ciphers.modes import CFB
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.ciphers.algorithms import AES

from dcops.monitoring.snmp.errors import DecodeError

#: auth protocol -> (hashlib name, truncated MAC length)
AUTH_PROTOCOLS = {
    "md5": ("md5", 12), "sha": ("sha1", 12), "sha224": ("sha224", 16), "sha256": ("sha256", 24),
    "sha384": ("sha384", 32), "sha512": ("sha512", 48),
}
#: priv protocol -> key length in octets
PRIV_PROTOCOLS = {"des": 16, "aes": 16, "aes192": 24, "aes256": 32}

#: usmStats report OIDs -> reason
REPORT_REASONS = {
    "1.3.6.1.6.3.15.1.1.1.0": "unsupportedSecLevels",
    "1.3.6.1.6.3.15.1.1.2.0": "notInTimeWindows",
    "1.3.6.1.6.3.15.1.1.3.0": "unknownUserNames",
    "1.3.6.1.6.3.15.1.1.4.0": "unknownEngineIDs",
    "1.3.6.1.6.3.15.1.1.5.0": "wrongDigests",
    "1.3.6.1.6.3.15.1.1.6.0": "decryptionErrors",
    "1.3.6.1.6.3.11.2.1.1.0": "unknownSecurityModels",
    "1.3.6.1.6.3.11.2.1.2.0": "invalidMsgs",
    "1.3.6.1.6.3.11.2.1.3.0": "unknownPDUHandlers",
    "1.3.6.1.6.3.12.1.4.0": "unavailableContexts",
    "1.3.6.1.6.3.12.1.5.0": "unknownContexts",
}


@lru_cache(maxsize=256)
def password_to_key(password: bytes, hash_name: str) -> bytes:
    """Return Ku: the hash of 1,048,576 octets of the repeated password (RFC 3414 A.2)."""
    if not password:
        raise ValueError("an empty password cannot make a USM key")
    repeated = password * (1048576 // len(password) + 1)
    return hashlib.new(hash_name, repeated[:1048576]).digest()


def localize_key(key: bytes, engine_id: bytes, hash_name: str) -> bytes:
    """Return Kul = H(Ku || engineID || Ku) (RFC 3414 A.2.2)."""
    return hashlib.new(hash_name, key + engine_id + key).digest()


def extend_key(key: bytes, length: int, hash_name: str) -> bytes:
    """Extend a localised key to length octets the Blumenthal way (net-snmp AES-192/AES-256)."""
    while len(key) < length:
        key += hashlib.new(hash_name, key).digest()
    return key[:length]


@dataclass(frozen=True)
class UsmKeys:
    """The localised keys of one user at one authoritative engine."""

    auth_protocol: str
    auth_key: bytes
    priv_protocol: str
    priv_key: bytes

    @property
    def mac_length(self) -> int:
        return AUTH_PROTOCOLS[self.auth_protocol][1] if self.auth_protocol != "none" else 0


@lru_cache(maxsize=4096)
def localized_keys(auth_protocol: str, auth_password: str, priv_protocol: str, priv_password: str,
                   engine_id: bytes) -> UsmKeys:
    """Return the keys of a user localised to engine_id (cached per engine and user)."""
    if auth_protocol == "none":
        return UsmKeys("none", b"", "none", b"")
    if auth_protocol not in AUTH_PROTOCOLS:
        raise ValueError(f"unknown auth protocol {auth_protocol!r}")
    hash_name = AUTH_PROTOCOLS[auth_protocol][0]
    auth_key = localize_key(password_to_key(auth_password.encode(), hash_name), engine_id, hash_name)
    if priv_protocol == "none":
        return UsmKeys(auth_protocol, auth_key, "none", b"")
    if priv_protocol not in PRIV_PROTOCOLS:
        raise ValueError(f"unknown priv protocol {priv_protocol!r}")
    priv_key = localize_key(password_to_key(priv_password.encode(), hash_name), engine_id, hash_name)
    priv_key = extend_key(priv_key, PRIV_PROTOCOLS[priv_protocol], hash_name)
    return UsmKeys(auth_protocol, auth_key, priv_protocol, priv_key)


def sign(keys: UsmKeys, message: bytearray, offset: int) -> None:
    """Compute the HMAC of message (auth parameters zeroed) and write it at offset."""
    hash_name, length = AUTH_PROTOCOLS[keys.auth_protocol]
    message[offset:offset + length] = hmac.digest(keys.auth_key, message, hash_name)[:length]


def verify(keys: UsmKeys, data: bytes, offset: int, mac: bytes) -> bool:
    """Return whether mac (found at offset in data) is the HMAC of data with the MAC zeroed."""
    hash_name, length = AUTH_PROTOCOLS[keys.auth_protocol]
    if len(mac) != length:
        return False
    zeroed = data[:offset] + bytes(length) + data[offset + length:]
    return hmac.compare_digest(hmac.digest(keys.auth_key, zeroed, hash_name)[:length], mac)


class SaltCounter:
    """Local salt source: a 64-bit counter started at a random value (RFC 3826 3.1.2.1)."""

    def __init__(self) -> None:
        self.value = int.from_bytes(os.urandom(8), "big")

    def next(self) -> int:
        self.value = (self.value + 1) & 0xFFFFFFFFFFFFFFFF
        return self.value


def encrypt(keys: UsmKeys, plaintext: bytes, boots: int, etime: int, salt: int) -> tuple[bytes, bytes]:
    """Encrypt a scopedPDU; return (ciphertext, msgPrivacyParameters)."""
    if keys.priv_protocol == "des":
        priv = boots.to_bytes(4, "big") + (salt & 0xFFFFFFFF).to_bytes(4, "big")
        iv = bytes(a ^ b for a, b in zip(keys.priv_key[8:16], priv, strict=True))
        pad = -len(plaintext) % 8
        enc = Cipher(TripleDES(keys.priv_key[:8] * 3), modes.CBC(iv)).encryptor()
        return enc.update(plaintext + bytes(pad)) + enc.finalize(), priv
    priv = salt.to_bytes(8, "big")
    iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + priv
    enc = Cipher(AES(keys.priv_key), CFB(iv)).encryptor()
    return enc.update(plaintext) + enc.finalize(), priv


def decrypt(keys: UsmKeys, ciphertext: bytes, boots: int, etime: int, priv: bytes) -> bytes:
    """Decrypt a scopedPDU; raise DecodeError when the parameters are malformed."""
    if len(priv) != 8:
        raise DecodeError("privacy parameters are not 8 octets")
    if keys.priv_protocol == "des":
        if len(ciphertext) % 8:
            raise DecodeError("DES ciphertext is not a multiple of 8 octets")
        iv = bytes(a ^ b for a, b in zip(keys.priv_key[8:16], priv, strict=True))
        dec = Cipher(TripleDES(keys.priv_key[:8] * 3), modes.CBC(iv)).decryptor()
    else:
        if not 0 <= boots <= 0xFFFFFFFF or not 0 <= etime <= 0xFFFFFFFF:
            raise DecodeError("engine boots/time out of range")
        iv = boots.to_bytes(4, "big") + etime.to_bytes(4, "big") + priv
        dec = Cipher(AES(keys.priv_key), CFB(iv)).decryptor()
    return dec.update(ciphertext) + dec.finalize()
