"""Migrate this container's service database, one replica at a time: ``kliniki-entrypoint migrate``.

Why a lock: in Kubernetes every replica's init container runs the migration when a Deployment
starts, and Alembic takes no lock of its own, so two replicas could race on a fresh database.
The lock is a PostgreSQL session advisory lock taken on the server's maintenance database (the
service's own database may not exist yet), keyed by the database name: the first replica
migrates, the others wait and then find the schema already at head (a no-op).

Settings come from the environment like the service's (``KLINIKI_SERVICE_NAME``,
``KLINIKI_POSTGRES_URL``, ...). The work itself is ``kliniki.migrate.migrate``, unchanged.
"""

from __future__ import annotations

import asyncio
import sys
import time
import zlib

import asyncpg

from kliniki.migrate import migrate
from kliniki.settings import ServiceSettings

CONNECT_TIMEOUT_SECONDS = 120.0


def lock_key(database: str) -> int:
    """A stable 32-bit key per database (pg_advisory_lock takes a bigint)."""
    return zlib.crc32(f"kliniki.migrate:{database}".encode())


async def acquire_lock(dsn: str, key: int) -> asyncpg.Connection:
    """Connect (PostgreSQL may still be starting: retry for a while), then wait for the lock."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_SECONDS
    while True:
        try:
            conn = await asyncpg.connect(dsn, timeout=10)
            break
        except (OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() > deadline:
                raise
            print(f"migrate: PostgreSQL not reachable yet ({exc.__class__.__name__}); retrying")
            await asyncio.sleep(2)
    await conn.execute("select pg_advisory_lock($1)", key)
    return conn


def main() -> int:
    settings = ServiceSettings()  # type: ignore[call-arg]  # service_name comes from the env
    loop = asyncio.new_event_loop()
    conn = loop.run_until_complete(
        acquire_lock(settings.maintenance_dsn, lock_key(settings.database))
    )
    try:
        # migrate() runs its own asyncio.run(); allowed, since this loop is not running now.
        migrate(settings)
    finally:
        loop.run_until_complete(conn.close())  # ending the session releases the lock
        loop.close()
    print(f"{settings.service_name}: database {settings.database} ready and migrated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
