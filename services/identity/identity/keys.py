"""The signing keys: kept in identity's database, held in memory by each replica.

The newest key signs; when a newer one arrives (``make rotate-keys``, ``POST /keys/rotate``, or a
new ``KLINIKI_SIGNING_KEY`` from the Secret) the older ones are retired: they sign nothing more
but stay in the JWKS for the access-token lifetime plus an overlap, so every token they signed
verifies until it expires. Each replica reloads the keys every ``RELOAD_SECONDS``.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from identity import domain
from identity.models import SigningKey
from identity.settings import IdentitySettings
from kliniki.db import utcnow
from kliniki.kernel import Kernel

log = logging.getLogger(__name__)

RELOAD_SECONDS = 30.0
KEYS_LOCK = 0x6B657973  # advisory lock: one replica at a time creates or rotates keys


@dataclass(frozen=True)
class LoadedKey:
    kid: str
    private: ec.EllipticCurvePrivateKey
    jwk: dict[str, Any]
    created_at: dt.datetime
    retired_at: dt.datetime | None


class KeyRing:
    def __init__(self, settings: IdentitySettings) -> None:
        self.keep = dt.timedelta(
            seconds=settings.access_token_seconds + settings.key_overlap_seconds
        )
        self.keys: list[LoadedKey] = []  # newest first

    def replace(self, rows: list[SigningKey]) -> None:
        self.keys = [
            LoadedKey(
                r.kid,
                domain.load_private_key(r.private_pem),
                r.public_jwk,
                r.created_at,
                r.retired_at,
            )
            for r in sorted(rows, key=lambda r: r.created_at, reverse=True)
        ]

    def signing_key(self) -> LoadedKey:
        if not self.keys:
            raise RuntimeError("identity has no signing key yet")
        return self.keys[0]

    def published(self, now: dt.datetime | None = None) -> list[LoadedKey]:
        now = now or utcnow()
        return [k for k in self.keys if k.retired_at is None or now - k.retired_at < self.keep]

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


async def _add_key(session: AsyncSession, key: ec.EllipticCurvePrivateKey) -> SigningKey:
    jwk = domain.public_jwk(key)
    now = utcnow()
    await session.execute(
        update(SigningKey).where(SigningKey.retired_at.is_(None)).values(retired_at=now)
    )
    row = SigningKey(
        kid=jwk["kid"], private_pem=domain.private_key_pem(key), public_jwk=jwk, created_at=now
    )
    session.add(row)
    await session.flush()
    return row


async def ensure_keys(kernel: Kernel) -> None:
    """At start: the configured key (new to us: it signs from now on), or a generated one."""
    settings: IdentitySettings = kernel.settings  # type: ignore[assignment]
    ring: KeyRing = kernel.extras["keys"]
    async with kernel.sessionmaker() as session, session.begin():
        await session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": KEYS_LOCK})
        rows = await _load(session)
        if settings.signing_key:
            configured = domain.load_private_key(settings.signing_key)
            kid = domain.public_jwk(configured)["kid"]
            if all(r.kid != kid for r in rows):
                await _add_key(session, configured)
                log.info("signing with the configured key %s", kid)
        elif not rows:
            row = await _add_key(session, domain.generate_private_key())
            log.info("generated signing key %s", row.kid)
        rows = await _load(session)
    ring.replace(rows)


async def rotate(kernel: Kernel) -> LoadedKey:
    """A new signing key; the previous ones retire (still published until their tokens end)."""
    ring: KeyRing = kernel.extras["keys"]
    async with kernel.sessionmaker() as session, session.begin():
        await session.execute(text("select pg_advisory_xact_lock(:k)"), {"k": KEYS_LOCK})
        await _add_key(session, domain.generate_private_key())
        rows = await _load(session)
    ring.replace(rows)
    return ring.signing_key()


async def reload_keys_forever(kernel: Kernel) -> None:
    """Pick up keys another replica (or the CLI) added."""
    ring: KeyRing = kernel.extras["keys"]
    while True:
        await asyncio.sleep(RELOAD_SECONDS)
        async with kernel.sessionmaker() as session:
            ring.replace(await _load(session))
