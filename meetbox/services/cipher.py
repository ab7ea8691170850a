"""Transcript encryption at rest, in the seed's format and compatible with CryptoJS.

Current format (what meetbox writes), as the seed describes:
    base64( salt[64] || iv[16] || AES-256-CBC(PKCS#7)(plaintext) )
    key = PBKDF2-HMAC-SHA256(secret, salt, 10,000 iterations, 32 bytes)
CryptoJS produces it with ``CryptoJS.PBKDF2(secret, salt, {keySize: 8, iterations: 10000,
hasher: CryptoJS.algo.SHA256})`` and ``CryptoJS.AES.encrypt(text, key, {iv})``.

Legacy format (still read, never written):
    base64( salt[64] || iv[16] || tag[16] || AES-256-GCM(plaintext) )
    key = PBKDF2-HMAC-SHA512(secret, salt, 10,000 iterations, 32 bytes)
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

SALT = 64
IV = 16
TAG = 16
ITERATIONS = 10_000


class DecryptError(ValueError):
    pass


def _key(secret: str, salt: bytes, algorithm: hashes.HashAlgorithm) -> bytes:
    kdf = PBKDF2HMAC(algorithm=algorithm, length=32, salt=salt, iterations=ITERATIONS)
    return kdf.derive(secret.encode("utf-8"))


def encrypt(text: str, secret: str) -> str:
    if not secret:
        raise ValueError("an encryption secret is required")
    salt, iv = os.urandom(SALT), os.urandom(IV)
    padder = padding.PKCS7(128).padder()
    data = padder.update(text.encode("utf-8")) + padder.finalize()
    encryptor = Cipher(
        algorithms.AES(_key(secret, salt, hashes.SHA256())), modes.CBC(iv)
    ).encryptor()
    sealed = encryptor.update(data) + encryptor.finalize()
    return base64.b64encode(salt + iv + sealed).decode("ascii")


def _decode(encrypted: str) -> bytes:
    try:
        return base64.b64decode(encrypted.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise DecryptError("not base64") from None


def _cbc(raw: bytes, secret: str) -> str | None:
    body = raw[SALT + IV :]
    if not body or len(body) % 16:
        return None
    key = _key(secret, raw[:SALT], hashes.SHA256())
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[SALT : SALT + IV])).decryptor()
    padded = decryptor.update(body) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    try:
        plain = unpadder.update(padded) + unpadder.finalize()
        return plain.decode("utf-8")
    except (ValueError, UnicodeDecodeError):
        return None


def _gcm(raw: bytes, secret: str) -> str | None:
    if len(raw) < SALT + IV + TAG:
        return None
    salt, iv = raw[:SALT], raw[SALT : SALT + IV]
    tag, body = raw[SALT + IV : SALT + IV + TAG], raw[SALT + IV + TAG :]
    try:
        plain = AESGCM(_key(secret, salt, hashes.SHA512())).decrypt(iv, body + tag, None)
        return plain.decode("utf-8")
    except (InvalidTag, ValueError, UnicodeDecodeError):
        return None


def decrypt(encrypted: str, secret: str) -> str:
    """CBC first (the current format), then the legacy GCM one; raises ``DecryptError``."""
    if not secret:
        raise ValueError("an encryption secret is required")
    raw = _decode(encrypted)
    if len(raw) < SALT + IV + 16:
        raise DecryptError("too short to be an encrypted message")
    for attempt in (_cbc, _gcm):
        plain = attempt(raw, secret)
        if plain is not None:
            return plain
    raise DecryptError("does not decrypt with this secret")


def is_encrypted(text: str, secret: str) -> bool:
    """True when ``text`` is a message this secret decrypts (so it is stored as it is)."""
    try:
        decrypt(text, secret)
    except DecryptError:
        return False
    return True


def readable(message: str, encrypted: bool, secret: str) -> str:
    """A stored transcript line as text: decrypted, or, as the seed does, as stored when it
    is not encrypted or does not decrypt."""
    if not encrypted:
        return str(message)
    try:
        return decrypt(message, secret)
    except ValueError:
        return str(message)
