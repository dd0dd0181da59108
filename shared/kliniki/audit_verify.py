"""Check every service's audit chain: ``make audit-verify`` (exit 1 if any chain is broken).

    python -m kliniki.audit_verify [registration triage ...]

Reads each service's database with the same settings the services use (``KLINIKI_*``).
"""

from __future__ import annotations

import argparse
import asyncio
import sys

from sqlalchemy.ext.asyncio import create_async_engine

from kliniki.audit import ChainReport, verify_chain
from kliniki.db import kernel_tables, service_metadata
from kliniki.settings import SERVICE_PORTS, ServiceSettings


async def verify(service: str) -> ChainReport:
    settings = ServiceSettings(service_name=service)
    engine = create_async_engine(settings.database_url)
    try:
        async with engine.connect() as conn:
            return await verify_chain(conn, kernel_tables(service_metadata()))
    finally:
        await engine.dispose()


async def main(services: list[str]) -> int:
    broken = 0
    for service in services:
        report = await verify(service)
        if report.intact:
            print(f"{service:>12}: {report.records} records, chain intact")
        else:
            broken += 1
            where = f" at record {report.broken_at}" if report.broken_at is not None else ""
            print(f"{service:>12}: BROKEN{where}: {report.reason}")
    return 1 if broken else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("services", nargs="*", default=list(SERVICE_PORTS))
    sys.exit(asyncio.run(main(parser.parse_args().services)))
