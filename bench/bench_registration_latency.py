"""From ``POST /patients`` returning to Sarah's ``new_assignment`` frame arriving.

Starts registration, triage and the notifier (own databases and broker names, removed after),
registers 200 patients one after another while Sarah is connected, and prints the median and
99th percentile. The baseline, measured in the same run, is one raw RabbitMQ publish-to-consume
hop; the registration path makes four such hops (registration -> triage -> notifier -> its live
fan-out) plus three database commits, so the ratio says what the plumbing costs beyond the broker.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

import aio_pika

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.support import percentile, register_one_at_a_time, start_pipeline
from tests.support.stack import Stack, servers

REGISTRATIONS = 200


async def broker_hop_baseline(amqp_url: str, samples: int = 200) -> list[float]:
    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel(publisher_confirms=True)
        queue = await channel.declare_queue("", exclusive=True)
        arrived: asyncio.Queue[float] = asyncio.Queue()
        await queue.consume(lambda m: arrived.put_nowait(time.perf_counter()), no_ack=True)
        out = []
        for _ in range(samples):
            sent = time.perf_counter()
            await channel.default_exchange.publish(
                aio_pika.Message(b"{}", delivery_mode=2), routing_key=queue.name
            )
            out.append((await arrived.get()) - sent)
        return out
    finally:
        await connection.close()


def main() -> None:
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            start_pipeline(stack)
            baseline = asyncio.run(broker_hop_baseline(amqp_url))
            registrations = asyncio.run(register_one_at_a_time(stack, REGISTRATIONS, 10))
            latencies = [r.to_frame_seconds for r in registrations]
        finally:
            stack.stop_all()
            stack.cleanup()
    ms = [v * 1000 for v in latencies]
    base = [v * 1000 for v in baseline]
    p50, p99 = statistics.median(ms), percentile(ms, 99)
    b50, b99 = statistics.median(base), percentile(base, 99)
    print(f"registrations measured: {len(ms)}")
    print(f"POST /patients returned -> Sarah's frame: p50 {p50:.1f} ms, p99 {p99:.1f} ms")
    print(f"baseline, one RabbitMQ publish->consume hop: p50 {b50:.2f} ms, p99 {b99:.2f} ms")
    print(f"ratio (p50 / baseline p50): {p50 / b50:.1f}x")


if __name__ == "__main__":
    main()
