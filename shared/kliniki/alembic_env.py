"""The body of every service's ``migrations/env.py``: online, async, against its own database."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import MetaData
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from kliniki.settings import ServiceSettings


def run_migrations(target_metadata: MetaData, service_name: str) -> None:
    settings = context.config.attributes.get("settings") or ServiceSettings(
        service_name=service_name
    )

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(settings.database_url)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=settings.database_url, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(run_async())
