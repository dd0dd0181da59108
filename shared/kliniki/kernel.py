"""What a running service holds: settings, database, broker, token verifier, background tasks."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from kliniki import tracing
from kliniki.auth import TokenVerifier
from kliniki.broker import Broker
from kliniki.db import KernelTables, create_engine, create_sessionmaker, kernel_tables
from kliniki.directory import Directory, StaffDirectory
from kliniki.settings import ServiceSettings
from kliniki.uow import UnitOfWork


@dataclass
class Kernel:
    settings: ServiceSettings
    metadata: MetaData
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    tables: KernelTables
    broker: Broker
    verifier: TokenVerifier
    # Who may still use a token here: the staff directory kept from identity's events (identity
    # itself answers from its accounts). None: no directory (only in tools).
    directory: Directory | None = None
    extras: dict[str, Any] = field(default_factory=dict)  # service-specific singletons

    @classmethod
    def build(cls, settings: ServiceSettings, metadata: MetaData) -> Kernel:
        engine = create_engine(settings)
        tracing.instrument_engine(engine)
        sessionmaker = create_sessionmaker(engine)
        table = metadata.tables.get("staff_directory")
        return cls(
            settings=settings,
            metadata=metadata,
            engine=engine,
            sessionmaker=sessionmaker,
            tables=kernel_tables(metadata),
            broker=Broker(settings),
            verifier=TokenVerifier(settings),
            directory=StaffDirectory(table, sessionmaker, settings) if table is not None else None,
        )

    @contextlib.asynccontextmanager
    async def unit_of_work(
        self,
        actor_id: str,
        request_id: str | None = None,
        correlation_id: str | None = None,
    ) -> AsyncIterator[UnitOfWork]:
        """A transaction; rolled back unless the caller commits."""
        async with self.sessionmaker() as session:
            yield UnitOfWork(
                session,
                self.tables,
                self.settings.service_name,
                actor_id=actor_id,
                request_id=request_id,
                correlation_id=correlation_id,
            )
