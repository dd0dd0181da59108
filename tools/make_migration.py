"""Autogenerate an Alembic revision for a service against a scratch database.

    .venv/bin/python tools/make_migration.py triage "add encounters"

The scratch database is migrated to head first, so the revision holds only the difference
between the models and the existing migrations. Review the file before committing it.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import asyncpg
from alembic import command

from kliniki.migrate import alembic_config
from kliniki.settings import ServiceSettings


async def recreate(settings: ServiceSettings) -> None:
    conn = await asyncpg.connect(settings.maintenance_dsn)
    try:
        await conn.execute(f'drop database if exists "{settings.database}" with (force)')
        await conn.execute(f'create database "{settings.database}"')
    finally:
        await conn.close()


def main() -> None:
    service, message = sys.argv[1], sys.argv[2]
    settings = ServiceSettings(service_name=service, database_name=f"kliniki_scratch_{service}")
    asyncio.run(recreate(settings))
    config = alembic_config(settings)
    command.upgrade(config, "head")
    versions = alembic_config(settings).get_main_option("script_location") + "/versions"
    number = len(list(Path(versions).glob("*.py"))) + 1
    command.revision(config, message=message, autogenerate=True, rev_id=f"{number:04d}")


if __name__ == "__main__":
    main()
