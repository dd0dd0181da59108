"""Waiting for something that happens asynchronously (an event applied), without sleeping blind."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

T = TypeVar("T")


async def eventually(
    probe: Callable[[], Awaitable[T]],
    until: Callable[[T], bool] = bool,
    timeout: float = 15.0,
    interval: float = 0.05,
) -> T:
    """Call ``probe`` until ``until(result)``; return the result, or fail with the last one."""
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if until(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last result: {result!r}")
        await asyncio.sleep(interval)
