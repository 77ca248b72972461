"""Bearer tokens: random, prefixed by role, stored only as a SHA-256 digest.

Tokens carry 256 random bits, so a fast hash is the right tool (slow password hashes guard
low-entropy secrets); the prefix tells which table to look in without trying all of them.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

TOKEN_PREFIXES = {"operator": "op", "driver": "dr", "device": "dv"}


def new_token(role: str) -> tuple[str, str]:
    """Return ``(token, digest)``: the token goes to the caller once, the digest to the database."""
    token = f"{TOKEN_PREFIXES[role]}_{secrets.token_urlsafe(32)}"
    return token, hash_token(token)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def role_of(token: str) -> str | None:
    prefix, _, rest = token.partition("_")
    if not rest:
        return None
    for role, p in TOKEN_PREFIXES.items():
        if p == prefix:
            return role
    return None


def same_secret(given: str, expected: str) -> bool:
    return hmac.compare_digest(hash_token(given), hash_token(expected))


def hmac_sha256_hex(key: str | bytes, message: bytes) -> str:
    key_bytes = key.encode() if isinstance(key, str) else key
    return hmac.new(key_bytes, message, hashlib.sha256).hexdigest()


# Passwords people choose (NTRIP source and rover passwords) get a slow, salted hash; tokens we
# generate are long random strings, for which a plain digest is enough.
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        calc = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2
        )
    except ValueError:
        return False
    return hmac.compare_digest(calc.hex(), digest)
