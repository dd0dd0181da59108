"""Identity's rules, plain Python: passwords, lockout, keys and the claims of a token."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import json
import secrets
from dataclasses import dataclass
from importlib import resources
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

# argon2id, OWASP's first recommended setting (19 MiB, 2 passes, 1 lane): about 25 ms on this
# 2-core machine, so a shift change of 50 sign-ins costs ~1 s of one core, while an offline
# guess costs the same 19 MiB and 25 ms. Hashes carry their parameters: raising them later
# rehashes each password at its owner's next sign-in.
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
ALGORITHM = "ES256"


# -- passwords ---------------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return HASHER.hash(password)


@functools.cache
def _dummy_hash() -> str:
    return HASHER.hash(secrets.token_urlsafe(16))


def verify_password(password_hash: str | None, password: str) -> bool:
    """Constant work whether or not there is an account: an unknown user still costs a
    verification (against a dummy hash), so timing tells nothing about who exists."""
    try:
        return HASHER.verify(password_hash or _dummy_hash(), password) and bool(password_hash)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return HASHER.check_needs_rehash(password_hash)


@functools.cache
def common_passwords() -> frozenset[str]:
    text = resources.files("identity").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and line[0] != "#"
    )


def password_problems(password: str, user_id: str, name: str = "") -> list[str]:
    """Why a new password is refused (empty: it is acceptable)."""
    problems = []
    if len(password) < MIN_PASSWORD_LENGTH:
        problems.append(f"must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        problems.append(f"must be at most {MAX_PASSWORD_LENGTH} characters")
    lowered = password.lower()
    if lowered in common_passwords():
        problems.append("is one of the most common passwords; choose another")
    if user_id and user_id.lower() in lowered:
        problems.append("may not contain the username")
    if len(set(password)) < 4:
        problems.append("needs more different characters")
    return problems


# -- lockout -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class LockoutPolicy:
    threshold: int
    window: dt.timedelta
    base: dt.timedelta
    maximum: dt.timedelta

    def locked_for(self, failures: list[dt.datetime], now: dt.datetime) -> int:
        """Seconds this username must wait, given its failed sign-ins (0: it may try).

        From the ``threshold``-th failure within the window, each further failure doubles
        the wait after the latest one: 1 min, 2, 4, 8, then the maximum."""
        recent = sorted(f for f in failures if now - f < self.window)
        if len(recent) < self.threshold:
            return 0
        extra = len(recent) - self.threshold
        wait = min(self.base * (2**extra), self.maximum)
        remaining = recent[-1] + wait - now
        return max(0, int(remaining.total_seconds() + 0.999))


# -- refresh tokens ----------------------------------------------------------------------------


def new_refresh_token() -> tuple[str, str]:
    """(the token the client keeps, the hash identity stores)."""
    token = secrets.token_urlsafe(32)
    return token, refresh_token_hash(token)


def refresh_token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


# -- signing keys ------------------------------------------------------------------------------


def _b64(value: int) -> str:
    return base64.urlsafe_b64encode(value.to_bytes(32, "big")).rstrip(b"=").decode()


def generate_private_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def private_key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def load_private_key(pem: str) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        raise ValueError("the signing key must be an EC P-256 private key (ES256)")
    return key


def public_jwk(key: ec.EllipticCurvePrivateKey) -> dict[str, Any]:
    """The public half as a JWK, with its RFC 7638 thumbprint as ``kid``."""
    numbers = key.public_key().public_numbers()
    members = {"crv": "P-256", "kty": "EC", "x": _b64(numbers.x), "y": _b64(numbers.y)}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    kid = base64.urlsafe_b64encode(hashlib.sha256(canonical).digest()).rstrip(b"=").decode()
    return {**members, "kid": kid, "use": "sig", "alg": ALGORITHM}


def access_claims(
    *,
    user_id: str,
    name: str,
    roles: list[str],
    session_id: str,
    issuer: str,
    audience: str,
    now: dt.datetime,
    lifetime: dt.timedelta,
) -> dict[str, Any]:
    return {
        "iss": issuer,
        "aud": audience,
        "sub": user_id,
        "name": name,
        "roles": roles,
        "sid": session_id,
        "iat": int(now.timestamp()),
        "exp": int((now + lifetime).timestamp()),
        "jti": secrets.token_hex(16),
    }
