"""Fixtures for every test in the repository (tests/ and services/*/tests/)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.stack import ALL_SERVICES, Stack, servers


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """All eight services (identity first), as processes on this run's databases and names."""
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            stack.migrate(ALL_SERVICES)
            stack.start_identity()
            for service in ALL_SERVICES:
                if service != "identity":
                    stack.start(service)
            for proc in stack.processes.values():
                stack.wait_ready(proc)
            yield stack
        finally:
            stack.stop_all()
            stack.cleanup()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=15) as client:
        yield client
