"""Two replicas of a service share one staff directory table: what one applies, the other picks
up on its next look, and a look that finds nothing changed reads no rows (the reload used to
read the whole table every second)."""

from __future__ import annotations

import dataclasses

from kliniki.db import create_engine, create_sessionmaker, service_metadata
from kliniki.directory import StaffDirectory, StaffMember
from kliniki.settings import ServiceSettings
from tests.support.stack import Stack


async def test_a_replica_rereads_the_directory_only_after_another_changed_it(stack: Stack) -> None:
    settings = ServiceSettings(
        service_name="clinical",
        postgres_url=stack.postgres_url,
        database_name=stack.database("clinical"),
    )
    table = service_metadata().tables["staff_directory"]
    engine = create_engine(settings)
    sessionmaker = create_sessionmaker(engine)
    this, other = (StaffDirectory(table, sessionmaker, settings) for _ in range(2))
    try:
        await this.load()
        await other.load()
        assert not await this.reload_if_changed()  # nothing changed: no rows read

        leaver = StaffMember("nurse_dora_t", "Dora Test", frozenset({"nurse"}), True, 1)
        async with sessionmaker() as session, session.begin():
            await other.apply(session, leaver)
        assert await other.is_active("nurse_dora_t")  # the applying replica knows at once
        assert not await this.is_active("nurse_dora_t")
        assert await this.reload_if_changed()
        assert await this.is_active("nurse_dora_t")

        # Deactivated through the other replica: refused here after the next look.
        async with sessionmaker() as session, session.begin():
            await other.apply(session, dataclasses.replace(leaver, active=False, version=2))
        assert await this.reload_if_changed()
        assert not await this.is_active("nurse_dora_t")
        assert not await this.reload_if_changed()

        # A stale event changes nothing, so nobody reads the table again.
        async with sessionmaker() as session, session.begin():
            await other.apply(session, leaver)
        assert not await this.reload_if_changed()
    finally:
        await engine.dispose()
