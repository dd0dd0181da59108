"""Parked outbox rows: list them, and re-send one once its cause is fixed.

    python -m kliniki.outbox_admin list [registration triage ...]
    python -m kliniki.outbox_admin resend SERVICE ROW_ID

(``make outbox-parked`` and ``make outbox-resend SERVICE=... ID=...``.) A row is parked when
the relay failed to publish it ``KLINIKI_OUTBOX_MAX_ATTEMPTS`` times while the broker was up
(kliniki.outbox); the rows behind it went on. Re-sending puts it back in the relay's queue and
wakes the running service's relay; if the cause is still there it is parked again.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import create_async_engine

from kliniki.db import kernel_tables, service_metadata
from kliniki.outbox import NOTIFY_CHANNEL
from kliniki.settings import SERVICE_PORTS, ServiceSettings


@dataclass(frozen=True)
class ParkedRow:
    service: str
    row_id: int
    routing_key: str
    event_id: str
    attempts: int
    last_error: str | None


async def parked(service: str) -> list[ParkedRow]:
    settings = ServiceSettings(service_name=service)
    outbox = kernel_tables(service_metadata()).outbox
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(outbox)
                .where(
                    outbox.c.published_at.is_(None),
                    outbox.c.attempts >= settings.outbox_max_attempts,
                )
                .order_by(outbox.c.id)
            )
            return [
                ParkedRow(service, r.id, r.routing_key, r.event_id, r.attempts, r.last_error)
                for r in rows
            ]
    finally:
        await engine.dispose()


async def resend(service: str, row_id: int) -> bool:
    """Give a parked row its attempts back; False if there is no such unpublished row."""
    settings = ServiceSettings(service_name=service)
    outbox = kernel_tables(service_metadata()).outbox
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(
                update(outbox)
                .where(outbox.c.id == row_id, outbox.c.published_at.is_(None))
                .values(attempts=0)
            )
            await conn.execute(select(func.pg_notify(NOTIFY_CHANNEL, "")))
            return result.rowcount == 1
    finally:
        await engine.dispose()


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="parked rows of each service")
    listing.add_argument("services", nargs="*", default=list(SERVICE_PORTS))
    again = commands.add_parser("resend", help="put a parked row back in the relay's queue")
    again.add_argument("service", choices=list(SERVICE_PORTS))
    again.add_argument("row_id", type=int)
    args = parser.parse_args(argv)
    if args.command == "resend":
        if await resend(args.service, args.row_id):
            print(f"{args.service}: outbox row {args.row_id} queued to be sent again")
            return 0
        print(f"{args.service}: no unpublished outbox row {args.row_id}", file=sys.stderr)
        return 1
    total = 0
    for service in args.services:
        for row in await parked(service):
            total += 1
            print(
                f"{row.service:>12} row {row.row_id} {row.routing_key} event {row.event_id}: "
                f"{row.attempts} attempts, last error: {row.last_error}"
            )
    print(f"{total} parked row(s)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
