"""Sign-in at identity: the OAuth2 password grant, one at a time and 20 at once (a shift change),
beside a baseline measured in the same run: the same HTTP round trip to GET /.well-known/jwks.json
(no password hashing), and argon2id alone in this process.

    .venv/bin/python bench/bench_sign_in.py      (or make bench BENCH=bench_sign_in)
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from identity import domain

from kliniki.settings import DEV_PASSWORD
from tests.support.stack import Stack, servers

SEQUENTIAL = 100
BURST = 20


def figures(name: str, seconds: list[float]) -> str:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]
    return f"{name:<44} n={len(ms):<4} p50 {statistics.median(ms):7.1f} ms   p99 {p99:7.1f} ms"


async def timed(client: httpx.AsyncClient, method: str, url: str, **kwargs: object) -> float:
    started = time.perf_counter()
    response = await client.request(method, url, **kwargs)
    response.raise_for_status()
    return time.perf_counter() - started


async def measure(base: str) -> None:
    users = ["alice_receptionist", "nurse_sarah", "dr_smith", "mike_lab_tech", "tom_cashier"]
    form = [{"grant_type": "password", "username": u, "password": DEV_PASSWORD} for u in users]
    async with httpx.AsyncClient(timeout=30) as client:
        for _ in range(5):  # warm up: connections, JIT-free but caches
            await timed(client, "POST", f"{base}/auth/token", data=form[0])
        baseline = [
            await timed(client, "GET", f"{base}/.well-known/jwks.json") for _ in range(SEQUENTIAL)
        ]
        alone = [
            await timed(client, "POST", f"{base}/auth/token", data=form[i % len(form)])
            for i in range(SEQUENTIAL)
        ]
        burst: list[float] = []
        for _ in range(3):
            burst += await asyncio.gather(
                *(
                    timed(client, "POST", f"{base}/auth/token", data=form[i % len(form)])
                    for i in range(BURST)
                )
            )
    hashing = []
    stored = domain.hash_password(DEV_PASSWORD)
    for _ in range(30):
        started = time.perf_counter()
        domain.verify_password(stored, DEV_PASSWORD)
        hashing.append(time.perf_counter() - started)
    params = domain.HASHER
    print(
        f"argon2id time_cost={params.time_cost} memory_cost={params.memory_cost} KiB "
        f"parallelism={params.parallelism}"
    )
    print(figures("baseline: GET /.well-known/jwks.json", baseline))
    print(figures("baseline: argon2id verify in-process", hashing))
    print(figures("sign-in (password grant), one at a time", alone))
    print(figures(f"sign-in, {BURST} at once (shift change)", burst))


def main() -> None:
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            stack.migrate(["identity"])
            proc = stack.start("identity", KLINIKI_LOG_LEVEL="WARNING")
            stack.wait_ready(proc)
            asyncio.run(measure(proc.url))
        finally:
            stack.stop_all()
            stack.cleanup()


if __name__ == "__main__":
    main()
