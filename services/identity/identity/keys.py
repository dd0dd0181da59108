"""The signing keys: kept in identity's database, held in memory by each replica.

A new key (``make rotate-keys``, ``POST /keys/rotate``, or a new ``KLINIKI_SIGNING_KEY`` from the
Secret) is published at once and signs ``key_publish_ahead_seconds`` later, so every service has
it before the first token it signed arrives. The key before it then retires: it signs nothing
more but stays in the JWKS for the access-token lifetime plus an overlap, so every token it
signed verifies until it expires. Each replica reloads the keys every ``RELOAD_SECONDS``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from identity import domain
from identity.models import SigningKey
from identity.settings import IdentitySettings, identity_settings
from kliniki.db import utcnow
from kliniki.kernel import Kernel

log = logging.getLogger(__name__)

RELOAD_SECONDS = 5.0
KEYS_LOCK = 0x6B657973  # advisory lock: one replica at a time creates or rotates keys


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private: ec.EllipticCurvePrivateKey
    jwk: dict[str, Any]
    active_from: dt.datetime


class KeyRing:
    """Every replica's view of the keys: which signs now, which are published."""

    def __init__(self, settings: IdentitySettings) -> None:
        self.keep = dt.timedelta(
            seconds=settings.access_token_seconds + settings.key_overlap_seconds
        )
        self.ahead = dt.timedelta(seconds=settings.key_publish_ahead_seconds)
        self.keys: list[LoadedKey] = []  # newest (latest active_from) first

    def replace(self, rows: list[SigningKey]) -> None:
        self.keys = [
            LoadedKey(r.kid, domain.load_private_key(r.private_pem), r.public_jwk, r.active_from)
            for r in sorted(rows, key=lambda r: (r.active_from, r.created_at), reverse=True)
        ]

    def signing_key(self, now: dt.datetime | None = None) -> LoadedKey:
        now = now or utcnow()
        for key in self.keys:
            if key.active_from <= now:
                return key
        raise RuntimeError("identity has no active signing key yet")

    def published(self, now: dt.datetime | None = None) -> list[LoadedKey]:
        """Keys that may sign now or soon, and retired ones whose tokens may still be alive
        (a key retires when the next one becomes active)."""
        now = now or utcnow()
        out: list[LoadedKey] = []
        successor_from: dt.datetime | None = None
        for key in self.keys:  # newest first: each key's successor is the one before it
            retired_at = successor_from if successor_from and successor_from <= now else None
            if retired_at is None or now - retired_at < self.keep:
                out.append(key)
            successor_from = key.active_from
        return out

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk for k in self.published()]}

    def sign(self, claims: dict[str, Any]) -> str:
        key = self.signing_key()
        return jwt.encode(claims, key.private, algorithm=domain.ALGORITHM, headers={"kid": key.kid})

    def resolve(self, token: str) -> Any:
        """The public key a token names (identity verifies its own tokens with this)."""
        kid = jwt.get_unverified_header(token).get("kid")
        for key in self.published():
            if key.kid == kid:
                return key.private.public_key()
        raise jwt.InvalidKeyError(f"no published key has kid {kid!r}")


async def _load(session: AsyncSession) -> list[SigningKey]:
    return list((await session.scalars(select(SigningKey))).all())


async def _add_key(
    session: AsyncSession, key: ec.EllipticCurvePrivateKey, active_from: dt.datetime
) -> SigningKey:
    jwk = domain.public_jwk(key)
    row = SigningKey(
        kid=jwk["kid"],
        private_pem=domain.private_key_pem(key),
        public_jwk=jwk,
        created_at=utcnow(),
        active_from=active_from,
    )
    session.add(row)
    await session.flush()
    return row


async def ensure_keys(kernel: Kernel) -> None:
    """At start: the configured key when it is new to identity (it signs once published for
    a moment, or at once on a new installation), or a generated one if there is none."""
    settings = identity_settings(kernel)
    ring: KeyRing = kernel.extras["keys"]
    async with kernel.sessionmaker() as session, session.begin():
        await session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": KEYS_LOCK})
        rows = await _load(session)
        now = utcnow()
        if settings.signing_key:
            configured = domain.load_private_key(settings.signing_key)
            kid = domain.public_jwk(configured)["kid"]
            if all(r.kid != kid for r in rows):
                await _add_key(session, configured, now + ring.ahead if rows else now)
                log.info("the configured signing key %s is new to identity", kid)
        elif not rows:
            row = await _add_key(session, domain.generate_private_key(), now)
            log.info("generated signing key %s", row.kid)
        rows = await _load(session)
    ring.replace(rows)


async def rotate(kernel: Kernel) -> LoadedKey:
    """A new key, published now and signing ``key_publish_ahead_seconds`` later; the previous
    one signs until then and stays published until its tokens have expired."""
    ring: KeyRing = kernel.extras["keys"]
    async with kernel.sessionmaker() as session, session.begin():
        await session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": KEYS_LOCK})
        row = await _add_key(session, domain.generate_private_key(), utcnow() + ring.ahead)
        kid = row.kid
        rows = await _load(session)
    ring.replace(rows)
    return next(k for k in ring.keys if k.kid == kid)


async def reload_keys_forever(kernel: Kernel) -> None:
    """Pick up keys another replica (or the CLI) added."""
    ring: KeyRing = kernel.extras["keys"]
    while True:
        await asyncio.sleep(RELOAD_SECONDS)
        async with kernel.sessionmaker() as session:
            ring.replace(await _load(session))
