"""Create a service's database if it is missing, then apply its Alembic migrations.

    python -m kliniki.migrate registration [triage ...]

``make run`` calls it before starting the services; in Kubernetes a Job runs it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
from pathlib import Path

import asyncpg
from alembic import command
from alembic.config import Config

from kliniki.settings import ServiceSettings


async def ensure_database(settings: ServiceSettings) -> bool:
    """Create the service's database when it does not exist; True if it was created."""
    conn = await asyncpg.connect(settings.maintenance_dsn)
    try:
        exists = await conn.fetchval(
            "select 1 from pg_database where datname = $1", settings.database
        )
        if exists:
            return False
        # Identifiers cannot be bound parameters; the name comes from our own settings.
        await conn.execute(f'create database "{settings.database}"')
        return True
    finally:
        await conn.close()


def alembic_config(settings: ServiceSettings) -> Config:
    package = importlib.import_module(settings.service_name)
    if package.__file__ is None:
        raise LookupError(f"{settings.service_name} is not a package with files")
    migrations = Path(package.__file__).resolve().parent / "migrations"
    config = Config()
    config.set_main_option("script_location", str(migrations))
    config.attributes["settings"] = settings
    return config


def migrate(settings: ServiceSettings) -> None:
    asyncio.run(ensure_database(settings))
    command.upgrade(alembic_config(settings), "head")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="+")
    args = parser.parse_args()
    for service in args.services:
        migrate(ServiceSettings(service_name=service))
        print(f"{service}: database ready and migrated")


if __name__ == "__main__":
    main()
