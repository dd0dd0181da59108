"""The staff directory's once-a-second look, with 5,000 members (the fan-out bench's directory).

Every replica of every service looks at its ``staff_directory`` table once a second to pick up
what another replica applied. Printed: the CPU the service spends and the wall time per look
when nothing changed (a fingerprint of the table), against reading the whole table (what each
look did before, and still does when the fingerprint moved) in the same run.

    make bench BENCH=bench_staff_directory
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kliniki.db import create_engine, create_sessionmaker, service_metadata
from kliniki.directory import StaffDirectory
from kliniki.settings import ServiceSettings
from tests.support.stack import servers

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "5000"))
LOOKS = 50


async def per_look(look: Callable[[], Awaitable[object]]) -> tuple[float, float]:
    """(CPU ms, wall ms) per call, this process only."""
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(LOOKS):
        await look()
    return (
        1000 * (time.process_time() - cpu) / LOOKS,
        1000 * (time.perf_counter() - wall) / LOOKS,
    )


async def measure(pg_url: str) -> list[str]:
    database = f"kliniki_bench_directory_{os.getpid()}"
    admin = await asyncpg.connect(f"{pg_url.rstrip('/')}/postgres")
    await admin.execute(f'create database "{database}"')
    try:
        settings = ServiceSettings(
            service_name="notifier", postgres_url=pg_url, database_name=database
        )
        table = service_metadata().tables["staff_directory"]
        engine = create_engine(settings)
        async with engine.begin() as conn:
            await conn.run_sync(table.create)
            await conn.execute(
                table.insert(),
                [
                    {
                        "user_id": f"user{i}",
                        "name": f"User {i}",
                        "roles": ["nurse"],
                        "active": True,
                        "version": 1,
                    }
                    for i in range(MEMBERS)
                ],
            )
        directory = StaffDirectory(table, create_sessionmaker(engine), settings)
        await directory.load()
        full = await per_look(directory.load)
        unchanged = await per_look(directory.reload_if_changed)
        await engine.dispose()
    finally:
        await admin.execute(f'drop database if exists "{database}" with (force)')
        await admin.close()
    return [
        f"staff directory, {MEMBERS} members, one look:",
        f"  nothing changed (fingerprint): {unchanged[0]:.2f} ms CPU, {unchanged[1]:.2f} ms wall",
        f"  baseline, whole table read: {full[0]:.2f} ms CPU, {full[1]:.2f} ms wall",
        f"  ratio (CPU): {unchanged[0] / full[0]:.3f}x",
    ]


def main() -> None:
    with servers() as (pg_url, _amqp_url):
        lines = asyncio.run(measure(pg_url))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
