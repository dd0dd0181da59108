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

import asyncio
import datetime as dt
import logging
import math
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from kliniki.schemas import plain_name
from kliniki.settings import DEFAULT_AUDIENCE, DEFAULT_ISSUER, ServiceSettings

ASYMMETRIC_ALGORITHMS = ["ES256", "ES384", "EdDSA", "RS256", "RS384", "RS512", "PS256"]
REQUIRED_CLAIMS = ["sub", "exp", "iat", "iss", "aud"]
PASSWORD_CHANGE_CLAIM = "pwd_change"
VERIFIED_TOKENS_KEPT = 4096
VERIFIED_TOKEN_SECONDS = 60.0

# Finds the public key for a token (from its ``kid`` header); raises jwt.PyJWTError if none.
KeyResolver = Callable[[str], Any]
log = logging.getLogger(__name__)
_PLAIN_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@-]{0,127}$")


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


class UnknownSigningKey(InvalidToken):
    """The token names a key (``kid``) that is not in the key set held now."""


class UnknownKid(jwt.PyJWTError):
    pass


class JwksKeys:
    """The public keys published at a JWKS URL (identity's, or an OIDC provider's).

    Fetched at start and every ``REFRESH_SECONDS`` in the background (a key removed from the
    set is refused from the next fetch), and at once when a token names a key not seen yet,
    at most every ``COOLDOWN_SECONDS`` (made-up kids cannot make a service hammer identity).
    When the URL cannot be reached the last key set is kept: identity being away for a while
    refuses nobody whose token is still valid. No request ever waits on it but for a new kid.
    """

    REFRESH_SECONDS = 60.0
    COOLDOWN_SECONDS = 5.0
    TIMEOUT_SECONDS = 3.0

    def __init__(self, url: str) -> None:
        self.url = url
        self._keys: dict[str, Any] = {}
        self._last_attempt = -math.inf
        self._lock = asyncio.Lock()

    def resolve(self, token: str) -> Any:
        kid = jwt.get_unverified_header(token).get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise UnknownKid(f"no published signing key has kid {kid!r}")
        return key

    async def refresh(self, *, force: bool = False) -> bool:
        """Fetch the key set again unless one was fetched moments ago; True if fetched."""
        async with self._lock:
            if not force and time.monotonic() - self._last_attempt < self.COOLDOWN_SECONDS:
                return False
            self._last_attempt = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=self.TIMEOUT_SECONDS) as client:
                    response = await client.get(self.url)
                    response.raise_for_status()
                key_set = jwt.PyJWKSet.from_dict(response.json())
            except Exception as exc:
                log.warning(
                    "could not fetch the signing keys from %s (%s); keeping the %d known",
                    self.url,
                    exc,
                    len(self._keys),
                )
                return False
            self._keys = {
                k.key_id: k.key
                for k in key_set.keys
                if k.key_id and k.public_key_use in ("sig", None)
            }
            return True

    async def run(self) -> None:
        while True:
            await self.refresh(force=True)
            await asyncio.sleep(self.REFRESH_SECONDS)


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
        self._verified: dict[str, tuple[Principal, float]] = {}  # token -> (who, until when)
        self._resolver: KeyResolver
        self.jwks: JwksKeys | None = None
        if resolver is not None:
            self._resolver = resolver
            self._algorithms = ASYMMETRIC_ALGORITHMS
        elif settings.jwt_jwks_url:
            self.jwks = JwksKeys(settings.jwt_jwks_url)
            self._resolver = self.jwks.resolve
            self._algorithms = ASYMMETRIC_ALGORITHMS
        elif settings.jwt_public_key:
            key = settings.jwt_public_key
            self._resolver = lambda _token: key
            self._algorithms = ASYMMETRIC_ALGORITHMS
        else:
            secret = settings.jwt_secret
            self._resolver = lambda _token: secret
            self._algorithms = ["HS256"]

    async def verify_async(self, token: str) -> Principal:
        """``verify``; a token naming a key not seen yet makes the key set be fetched again
        first (at most every few seconds), so a newly published key is accepted at once."""
        try:
            return self.verify(token)
        except UnknownSigningKey:
            if self.jwks is None or not await self.jwks.refresh():
                raise
            return self.verify(token)

    def verify(self, token: str) -> Principal:
        """The token's staff member; a token verified in the last minute is not verified again
        (an ES256 signature check costs more CPU than the rest of a small request)."""
        now = time.time()
        known = self._verified.get(token)
        if known is not None and now < known[1]:
            return known[0]
        principal = self._verify(token)
        # Until the token expires (with the leeway the check allows), at most a minute: a key
        # withdrawn from the JWKS stops working within a minute, as it did with its refresh.
        expires = principal.expires_at.timestamp() + self._leeway if principal.expires_at else now
        if len(self._verified) >= VERIFIED_TOKENS_KEPT:
            self._verified.pop(next(iter(self._verified)))  # the oldest
        self._verified[token] = (principal, min(expires, now + VERIFIED_TOKEN_SECONDS))
        return principal

    def _verify(self, token: str) -> Principal:
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
        except UnknownKid as exc:
            raise UnknownSigningKey(str(exc)) from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(str(exc) or exc.__class__.__name__) from exc
        exp, iat = claims["exp"], claims["iat"]
        if not isinstance(iat, int | float) or exp - iat > self._max_lifetime:
            raise InvalidToken(
                f"the token lives longer than the {self._max_lifetime} s allowed (exp - iat)"
            )
        sub = claims["sub"]
        if not isinstance(sub, str) or not _PLAIN_ID.fullmatch(sub):
            raise InvalidToken("the sub claim must be a staff user id (letters, digits, _.-@)")
        roles = _claim(claims, self._roles_claim) or []
        if isinstance(roles, str):
            roles = roles.split()
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise InvalidToken("the roles claim must be a list of role names")
        name = str(claims.get("name") or sub)
        try:  # the name is shown to colleagues (presence, typing): plain text only
            plain_name(name)
        except ValueError as exc:
            raise InvalidToken(f"the name claim {exc}") from exc
        sid = claims.get("sid")
        return Principal(
            user_id=sub,
            name=name,
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
