"""Bearer JWT verification (PyJWT) and the role checks routes depend on.

A token carries ``sub`` (user id), ``name`` and ``roles`` and is signed by identity with an
asymmetric key (ES256) published at identity's ``/.well-known/jwks.json``; every other service
verifies with those public keys (``KLINIKI_JWT_JWKS_URL``, or a hospital's own OIDC provider's)
and holds no signing secret. What is checked, always: the signature with an algorithm fixed
by the key type (so ``alg: none`` and HS256-against-a-public-key are refused), ``iss``,
``aud``, ``exp``, ``iat`` and a bounded lifetime (``exp - iat``). The HS256 shared secret is
left only for tools and tests that run without identity; production refuses it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from kliniki.settings import DEFAULT_AUDIENCE, DEFAULT_ISSUER, ServiceSettings

ASYMMETRIC_ALGORITHMS = ["ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256"]
REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud"]
PASSWORD_CHANGE_CLAIM = "pwd_change"

# Finds the public key for a token (from its ``kid`` header); raises jwt.PyJWTError if none.
KeyResolver = Callable[[str], Any]


@dataclass(frozen=True)
class Principal:
    """The staff member making a request."""

    user_id: str
    name: str
    roles: frozenset[str]
    expires_at: dt.datetime | None = None
    session_id: str | None = None
    # Signed in with a one-time password: this token may only change it (identity's
    # POST /me/password); every other route refuses it.
    password_change_required: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {"userId": self.user_id, "name": self.name, "roles": sorted(self.roles)}


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by a trusted key."""


def _claim(claims: dict[str, Any], path: str) -> Any:
    """``roles`` or a dotted path into nested objects (``realm_access.roles``)."""
    value: Any = claims
    for part in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(part)
    return value


class TokenVerifier:
    def __init__(self, settings: ServiceSettings, resolver: KeyResolver | None = None) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._roles_claim = settings.jwt_roles_claim
        self._max_lifetime = settings.jwt_max_lifetime_seconds
        self._leeway = settings.jwt_leeway_seconds
        self._resolver: KeyResolver
        if resolver is not None:
            self._resolver = resolver
            self._algorithms = ASYMMETRIC_ALGORITHMS
        elif settings.jwt_jwks_url:
            client = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True, timeout=5)
            self._resolver = lambda token: client.get_signing_key_from_jwt(token).key
            self._algorithms = ASYMMETRIC_ALGORITHMS
        elif settings.jwt_public_key:
            key = settings.jwt_public_key
            self._resolver = lambda _token: key
            self._algorithms = ASYMMETRIC_ALGORITHMS
        else:
            secret = settings.jwt_secret
            self._resolver = lambda _token: secret
            self._algorithms = ["HS256"]

    def verify(self, token: str) -> Principal:
        try:
            claims = jwt.decode(
                token,
                self._resolver(token),
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc) or exc.__class__.__name__) from exc
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(iat, int | float) or exp - iat > self._max_lifetime:
            raise InvalidToken(
                f"the token lives longer than the {self._max_lifetime} s allowed (exp - iat)"
            )
        sub = claims["sub"]
        if not isinstance(sub, str) or not sub.strip():
            raise InvalidToken("the sub claim must name a user")
        roles = _claim(claims, self._roles_claim) or []
        if isinstance(roles, str):
            roles = roles.split()
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("the roles claim must be a list of role names")
        sid = claims.get("sid")
        return Principal(
            user_id=sub,
            name=str(claims.get("name") or sub),
            roles=frozenset(roles),
            expires_at=dt.datetime.fromtimestamp(exp, dt.UTC),
            session_id=sid if isinstance(sid, str) else None,
            password_change_required=claims.get(PASSWORD_CHANGE_CLAIM) is True,
        )


def mint_token(
    secret: str,
    user_id: str,
    name: str,
    roles: list[str],
    lifetime: dt.timedelta = dt.timedelta(hours=1),
    *,
    issuer: str = DEFAULT_ISSUER,
    audience: str = DEFAULT_AUDIENCE,
) -> str:
    """An HS256 token for tools that run without identity (benchmarks). Never in production:
    wherever a JWKS URL or public key is configured, HS256 is refused."""
    now = dt.datetime.now(dt.UTC)
    claims = {
        "sub": user_id,
        "name": name,
        "roles": roles,
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + lifetime,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
