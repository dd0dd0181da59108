"""Each service's migrations build exactly the schema its models describe, and undo cleanly."""

from __future__ import annotations

import asyncio
import importlib

import asyncpg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from kliniki.migrate import alembic_config, migrate
from kliniki.settings import SERVICE_PORTS, ServiceSettings
from tests.support.stack import Stack


async def _schema_differences(settings: ServiceSettings, service: str) -> list[object]:
    metadata = importlib.import_module(f"{service}.models").Base.metadata
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(
                lambda sync: compare_metadata(MigrationContext.configure(sync), metadata)
            )
    finally:
        await engine.dispose()


async def _drop(settings: ServiceSettings) -> None:
    conn = await asyncpg.connect(settings.maintenance_dsn)
    try:
        await conn.execute(f'drop database if exists "{settings.database}" with (force)')
    finally:
        await conn.close()


@pytest.mark.parametrize("service", list(SERVICE_PORTS))
def test_migrations_match_the_models_and_downgrade_cleanly(stack: Stack, service: str) -> None:
    settings = ServiceSettings(
        service_name=service,
        postgres_url=stack.postgres_url,
        database_name=f"{stack.database(service)}_migrations",
    )
    try:
        migrate(settings)
        assert asyncio.run(_schema_differences(settings, service)) == []
        config = alembic_config(settings)
        command.downgrade(config, "base")
        command.upgrade(config, "head")
        assert asyncio.run(_schema_differences(settings, service)) == []
    finally:
        asyncio.run(_drop(settings))
