"""Bearer JWT verification (pyjwt) and the role checks routes depend on.

A token carries ``sub`` (user id), ``name`` and ``roles``. Locally it is signed with a shared
secret (HS256); in production set ``KLINIKI_JWT_JWKS_URL`` (an OIDC provider's keys) or
``KLINIKI_JWT_PUBLIC_KEY``. The accepted algorithms are fixed per key type, so a token with
``alg: none`` or signed with another key is refused.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

import jwt

from kliniki.schemas import plain_name
from kliniki.settings import ServiceSettings

_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")
_ASYMMETRIC = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]


@dataclass(frozen=True)
class Principal:
    """The staff member making a request."""

    user_id: str
    name: str
    roles: frozenset[str]

    def as_dict(self) -> dict[str, Any]:
        return {"userId": self.user_id, "name": self.name, "roles": sorted(self.roles)}


class InvalidToken(Exception):
    """The token is missing, malformed, expired or not signed by a trusted key."""


class TokenVerifier:
    def __init__(self, settings: ServiceSettings) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._jwks: jwt.PyJWKClient | None = None
        self._key: Any
        if settings.jwt_jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url, cache_keys=True)
            self._algorithms = _ASYMMETRIC
        elif settings.jwt_public_key:
            self._key = settings.jwt_public_key
            self._algorithms = _ASYMMETRIC
        else:
            self._key = settings.jwt_secret
            self._algorithms = ["HS256"]

    def verify(self, token: str) -> Principal:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["sub", "exp"], "verify_aud": self._audience is not None},
            )
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc) or exc.__class__.__name__) from exc
        roles = claims.get("roles", [])
        if isinstance(roles, str):
            roles = roles.split()
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("the roles claim must be a list of role names")
        sub = claims["sub"]
        name = str(claims.get("name") or sub)
        if not isinstance(sub, str) or not _PLAIN_ID.fullmatch(sub):
            raise InvalidToken("the sub claim must be a staff user id (letters, digits, _.-@)")
        try:  # the name is shown to colleagues (presence, typing): plain text only
            plain_name(name)
        except ValueError as exc:
            raise InvalidToken(f"the name claim {exc}") from exc
        return Principal(user_id=sub, name=name, roles=frozenset(roles))


def mint_token(
    secret: str,
    user_id: str,
    name: str,
    roles: list[str],
    lifetime: dt.timedelta = dt.timedelta(hours=12),
) -> str:
    """A locally signed token (``make token``, tests, the demo). Never used in production."""
    now = dt.datetime.now(dt.UTC)
    claims = {"sub": user_id, "name": name, "roles": roles, "iat": now, "exp": now + lifetime}
    return jwt.encode(claims, secret, algorithm="HS256")


def bearer_token(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()
