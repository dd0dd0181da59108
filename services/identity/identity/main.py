"""The identity app: ``uvicorn --factory identity.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from identity.api import identity_router
from identity.keys import KeyRing, ensure_keys, reload_keys_forever
from identity.models import Base
from identity.service import AccountDirectory, seed_staff
from identity.settings import IdentitySettings, identity_settings
from kliniki.app import create_service_app
from kliniki.auth import TokenVerifier
from kliniki.kernel import Kernel


async def prepare(kernel: Kernel) -> None:
    """Before the first request: the signing keys (identity verifies with its own), the seed."""
    settings = identity_settings(kernel)
    ring = KeyRing(settings)
    kernel.extras["keys"] = ring
    await ensure_keys(kernel)
    kernel.verifier = TokenVerifier(settings, resolver=ring.resolve)
    kernel.directory = AccountDirectory(kernel.sessionmaker)
    await seed_staff(kernel)


def create_app() -> FastAPI:
    return create_service_app(
        IdentitySettings(),
        Base.metadata,
        routers=[identity_router()],
        startup=[prepare],
        background=[reload_keys_forever],
        public_paths=["/auth/token", "/auth/logout"],  # they take credentials, not a token
        description="Staff accounts, sign-in (OAuth2) and the signing keys every service trusts.",
    )
