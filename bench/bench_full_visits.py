"""Twenty whole visits at once, interleaved: wall time and write-to-WebSocket latency.

Starts all seven services (own databases and broker names, removed after), connects the six
staff members, runs one visit alone (the baseline), then twenty at once, and prints the wall
times and the median and 99th percentile of the time from each write returning to the frame it
causes arriving at the right person's socket (8 such writes per visit).
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import percentile
from tests.support.live import StaffSocket
from tests.support.scenario_run import STAFF, run_visit
from tests.support.stack import ALL_SERVICES, Stack, servers

VISITS = 20


async def measure(stack: Stack) -> tuple[float, list[float], float, list[float]]:
    urls = {s: stack.url(s) for s in stack.processes}
    sockets = {user: StaffSocket(stack.ws_url(user), user) for user in STAFF}
    await asyncio.gather(*(s.connect() for s in sockets.values()))
    try:
        async with httpx.AsyncClient(timeout=60) as http:
            await run_visit(http, urls, sockets, timeout=60)  # warm-up
            started = time.perf_counter()
            alone = await run_visit(http, urls, sockets, timeout=60)
            alone_wall = time.perf_counter() - started
            started = time.perf_counter()
            runs = await asyncio.gather(
                *(run_visit(http, urls, sockets, timeout=120) for _ in range(VISITS))
            )
            wall = time.perf_counter() - started
    finally:
        await asyncio.gather(*(s.close() for s in sockets.values()))
    return alone_wall, alone.latencies, wall, [lat for r in runs for lat in r.latencies]


def main() -> None:
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            stack.migrate(ALL_SERVICES)
            stack.start_identity()
            for service in ALL_SERVICES:
                if service != "identity":
                    stack.start(service, KLINIKI_LOG_LEVEL="WARNING")
            for proc in stack.processes.values():
                stack.wait_ready(proc)
            alone_wall, alone, wall, together = asyncio.run(measure(stack))
        finally:
            stack.stop_all()
            stack.cleanup()
    ms = [v * 1000 for v in together]
    base = [v * 1000 for v in alone]
    print(
        f"one visit alone (baseline): wall {alone_wall:.2f} s, write->frame p50 "
        f"{statistics.median(base):.0f} ms, p99 {percentile(base, 99):.0f} ms ({len(base)} writes)"
    )
    print(
        f"{VISITS} visits at once: wall {wall:.2f} s, write->frame p50 "
        f"{statistics.median(ms):.0f} ms, p99 {percentile(ms, 99):.0f} ms ({len(ms)} writes)"
    )
    print(
        f"ratios: wall {wall / alone_wall:.1f}x for {VISITS}x the work; "
        f"p50 latency {statistics.median(ms) / statistics.median(base):.1f}x"
    )


if __name__ == "__main__":
    main()
