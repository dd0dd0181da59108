"""From ``POST /patients`` returning to Sarah's ``new_assignment`` frame arriving.

Starts registration, triage and the notifier (own databases and broker names, removed after),
registers 200 patients one after another while Sarah is connected, and prints the median and
99th percentile. The baseline, measured in the same run, is one raw RabbitMQ publish-to-consume
hop; the registration path makes four such hops (registration -> triage -> notifier -> its live
fan-out) plus three database commits, so the ratio says what the plumbing costs beyond the broker.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import time
from pathlib import Path

import aio_pika
import httpx
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.scenario import another_patient
from tests.support.stack import Stack, auth, servers

REGISTRATIONS = 200
SERVICES = ["registration", "triage", "notifier"]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


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


async def measure(stack: Stack) -> list[float]:
    arrivals: dict[str, float] = {}
    got = asyncio.Event()
    latencies: list[float] = []
    async with (
        websockets.connect(stack.ws_url("nurse_sarah")) as sarah,
        httpx.AsyncClient() as http,
    ):

        async def read() -> None:
            async for text in sarah:
                frame = json.loads(text)
                if frame["event"] == "new_assignment":
                    arrivals[frame["data"]["patientId"]] = time.perf_counter()
                    got.set()

        reader = asyncio.create_task(read())
        url = f"{stack.url('registration')}/patients"
        for i in range(REGISTRATIONS + 10):  # the first 10 warm up connections and caches
            response = await http.post(
                url, json=another_patient(), headers=auth("alice_receptionist")
            )
            returned = time.perf_counter()
            patient_id = response.json()["id"]
            while patient_id not in arrivals:
                got.clear()
                await asyncio.wait_for(got.wait(), timeout=15)
            if i >= 10:
                latencies.append(arrivals[patient_id] - returned)
        reader.cancel()
    return latencies


def main() -> None:
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            stack.migrate(["identity", *SERVICES])
            stack.start_identity()  # the others verify tokens with identity's keys
            for service in SERVICES:
                stack.start(service, KLINIKI_LOG_LEVEL="WARNING")
            for proc in stack.processes.values():
                stack.wait_ready(proc)
            baseline = asyncio.run(broker_hop_baseline(amqp_url))
            latencies = asyncio.run(measure(stack))
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
