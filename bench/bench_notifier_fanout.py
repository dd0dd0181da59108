"""One notifier with 5,000 authenticated sockets: frames per second, memory per socket, latency.

Starts its own notifier (own database and broker names, removed after), connects CLIENTS
sockets with tokens of made-up staff of every role, then publishes the two events that make a
``patient_registered`` for all staff (triage's ``assignment.created``, then registration's
``patient.registered``) and watches every socket receive it:

- latency: from publishing ``patient.registered`` to each socket's frame, one broadcast at a
  time (p50 and p99 over all sockets and broadcasts);
- throughput: BURST broadcasts published back to back, frames received per second until the
  last socket has the last one;
- memory: the notifier's resident memory with the sockets open minus before, per socket.

The baseline, in the same run on the same machine: a plain ``websockets`` server that calls
``websockets.broadcast`` for each message a publisher socket sends (no auth, no broker, no
database), measured the same way by the same clients. Traffic stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kliniki.auth import mint_token
from kliniki.events import CloudEvent
from kliniki.settings import DEV_JWT_SECRET
from tests.support.stack import Stack, free_port, servers

CLIENTS = int(os.environ.get("BENCH_CLIENTS", "5000"))
LATENCY_ROUNDS = 20
BURST = 20
CONNECT_BATCH = 200
ROLES = [
    "receptionist",
    "triage_nurse",
    "clinical_officer",
    "lab_technician",
    "pharmacist",
    "cashier",
    "admin",
]
MARK = '"patientId": "bench-'  # how a client spots the broadcast without parsing it


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * CLIENTS + 1000))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < 2 * CLIENTS + 200:
        raise SystemExit(f"the open-file limit ({hard}) is too low for {CLIENTS} sockets")


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


@dataclass
class Audience:
    """CLIENTS sockets, each noting when each broadcast (by number) reached it."""

    sockets: list[websockets.ClientConnection] = field(default_factory=list)
    arrivals: dict[int, list[float]] = field(default_factory=dict)
    complete: dict[int, asyncio.Event] = field(default_factory=dict)
    readers: list[asyncio.Task[None]] = field(default_factory=list)

    def expect(self, number: int) -> asyncio.Event:
        self.arrivals[number] = []
        self.complete[number] = asyncio.Event()
        return self.complete[number]

    async def connect(self, urls: list[str]) -> None:
        for start in range(0, len(urls), CONNECT_BATCH):
            batch = urls[start : start + CONNECT_BATCH]
            opened = await asyncio.gather(
                *(websockets.connect(u, ping_interval=None, max_size=2**20) for u in batch)
            )
            self.sockets.extend(opened)
        self.readers = [asyncio.create_task(self._read(s)) for s in self.sockets]

    async def _read(self, socket: websockets.ClientConnection) -> None:
        try:
            async for text in socket:
                at = time.perf_counter()
                assert isinstance(text, str)
                found = text.find(MARK)
                if found < 0:
                    continue
                end = text.index('"', found + len(MARK))
                number = int(text[found + len(MARK) : end])
                arrived = self.arrivals.get(number)
                if arrived is None:
                    continue
                arrived.append(at)
                if len(arrived) == len(self.sockets):
                    self.complete[number].set()
        except websockets.ConnectionClosed:
            pass

    async def close(self) -> None:
        for reader in self.readers:
            reader.cancel()
        await asyncio.gather(*(s.close() for s in self.sockets), return_exceptions=True)


@dataclass
class Figures:
    frames_per_second: float
    bytes_per_socket: float
    p50_ms: float
    p99_ms: float


Publish = Callable[[int], Awaitable[None]]


async def measure(
    audience: Audience, publish: Publish, first_number: int, warmup: Publish | None = None
) -> tuple[list[float], float]:
    """(latencies in seconds, frames per second)."""
    latencies: list[float] = []
    number = first_number
    for _ in range(LATENCY_ROUNDS):
        number += 1
        done = audience.expect(number)
        started = time.perf_counter()
        await publish(number)
        await asyncio.wait_for(done.wait(), timeout=120)
        latencies += [t - started for t in audience.arrivals[number]]
    numbers = list(range(number + 1, number + 1 + BURST))
    events = [audience.expect(n) for n in numbers]
    started = time.perf_counter()
    for n in numbers:
        await publish(n)
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in events)), timeout=300)
    elapsed = max(max(audience.arrivals[n]) for n in numbers) - started
    return latencies, BURST * len(audience.sockets) / elapsed


# -- the notifier ---------------------------------------------------------------------------


async def notifier_figures(stack: Stack, pid: int, port: int) -> Figures:
    tokens = [
        mint_token(DEV_JWT_SECRET, f"bench_{i}", f"Bench Staff {i}", [ROLES[i % len(ROLES)]])
        for i in range(CLIENTS)
    ]
    urls = [f"ws://127.0.0.1:{port}/ws?token={t}" for t in tokens]
    connection = await aio_pika.connect(stack.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    registration = await channel.get_exchange(f"{stack.namespace}registration.events")
    triage = await channel.get_exchange(f"{stack.namespace}triage.events")

    async def publish(number: int) -> None:
        patient, visit = f"bench-{number}", f"visit-{number}-{uuid.uuid4().hex[:6]}"
        # Triage's assignment first; registration's event completes patient_registered.
        assignment = CloudEvent(
            source="/services/triage",
            type="assignment.created.v1",
            subject=patient,
            visitid=visit,
            data={
                "id": f"assignment-{number}",
                "patientId": patient,
                "visitId": visit,
                "assignmentType": "TRIAGE",
                "assignedToUserId": "bench_nurse",
                "priority": "NORMAL",
                "patientName": "John Doe",
                "opNumber": f"OP{number}",
                "change": "created",
            },
        )
        await triage.publish(
            aio_pika.Message(assignment.to_json_bytes(), delivery_mode=2),
            routing_key="assignment.created",
        )
        registered = CloudEvent(
            source="/services/registration",
            type="patient.registered.v1",
            subject=patient,
            visitid=visit,
            actorid="alice_receptionist",
            data={
                "patientId": patient,
                "visitId": visit,
                "firstName": "John",
                "lastName": "Doe",
                "opNumber": f"OP{number}",
                "registeredBy": "alice_receptionist",
            },
        )
        await registration.publish(
            aio_pika.Message(registered.to_json_bytes(), delivery_mode=2),
            routing_key="patient.registered",
        )

    audience = Audience()
    try:
        await asyncio.sleep(1)
        before = rss_bytes(pid)
        await audience.connect(urls)
        await asyncio.sleep(2)  # let the server settle its per-socket state
        after = rss_bytes(pid)
        latencies, fps = await measure(audience, publish, 0)
    finally:
        await audience.close()
        await connection.close()
    return Figures(
        fps,
        (after - before) / CLIENTS,
        statistics.median(latencies) * 1000,
        percentile(latencies, 99) * 1000,
    )


# -- the baseline: websockets.broadcast -----------------------------------------------------


async def baseline_server(port: int) -> None:
    """Every socket but the publisher's hears each message the publisher sends."""
    listeners: set[websockets.ServerConnection] = set()

    async def handler(socket: websockets.ServerConnection) -> None:
        if socket.request is not None and socket.request.path.startswith("/publish"):
            async for text in socket:
                frame = {
                    "event": "patient_registered",
                    "data": {
                        "patientId": str(text),
                        "opNumber": "OP12345",
                        "assignedTo": "bench_nurse",
                        "registeredBy": "alice_receptionist",
                        "timestamp": "2026-01-01T00:00:00+00:00",
                    },
                    "id": 1,
                }
                websockets.broadcast(listeners, json.dumps(frame))
            return
        listeners.add(socket)
        try:
            await socket.wait_closed()
        finally:
            listeners.discard(socket)

    async with websockets.serve(handler, "127.0.0.1", port, ping_interval=None, backlog=2048):
        await asyncio.Future()


async def baseline_figures(pid: int, port: int) -> Figures:
    publisher = await websockets.connect(f"ws://127.0.0.1:{port}/publish")

    async def publish(number: int) -> None:
        await publisher.send(f"bench-{number}")

    audience = Audience()
    try:
        await asyncio.sleep(1)
        before = rss_bytes(pid)
        await audience.connect([f"ws://127.0.0.1:{port}/"] * CLIENTS)
        await asyncio.sleep(2)
        after = rss_bytes(pid)
        latencies, fps = await measure(audience, publish, 0)
    finally:
        await audience.close()
        await publisher.close()
    return Figures(
        fps,
        (after - before) / CLIENTS,
        statistics.median(latencies) * 1000,
        percentile(latencies, 99) * 1000,
    )


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError("the baseline server exited")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise TimeoutError("the baseline server did not start")


def run_baseline() -> Figures:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(port)])
    try:
        wait_for_port(port, server)
        return asyncio.run(baseline_figures(server.pid, port))
    finally:
        server.terminate()
        server.wait(timeout=15)


def run_notifier() -> Figures:
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            stack.migrate(["identity", "notifier"])
            stack.start_identity()  # the notifier verifies tokens with identity's keys
            proc = stack.start("notifier", KLINIKI_LOG_LEVEL="WARNING", KLINIKI_LOG_JSON="false")
            stack.wait_ready(proc)
            return asyncio.run(notifier_figures(stack, proc.process.pid, proc.port))
        finally:
            stack.stop_all()
            stack.cleanup()


def report(name: str, f: Figures) -> None:
    print(
        f"{name:<28} {f.frames_per_second:>12,.0f} frames/s {f.bytes_per_socket / 1024:>8.1f} KiB"
        f"/socket   latency p50 {f.p50_ms:>7.1f} ms  p99 {f.p99_ms:>7.1f} ms"
    )


def main() -> None:
    raise_fd_limit()
    started = time.monotonic()
    notifier = run_notifier()
    baseline = run_baseline()
    print(
        f"{CLIENTS} sockets; latency over {LATENCY_ROUNDS} broadcasts one at a time, "
        f"throughput over {BURST} back to back ({time.monotonic() - started:.0f} s in all)"
    )
    report("notifier (auth, broker, db)", notifier)
    report("websockets.broadcast", baseline)
    throughput = notifier.frames_per_second / baseline.frames_per_second
    print(
        f"notifier / baseline: throughput {throughput:.2f}x,"
        f" memory {notifier.bytes_per_socket / baseline.bytes_per_socket:.1f}x,"
        f" latency p50 {notifier.p50_ms / baseline.p50_ms:.1f}x,"
        f" p99 {notifier.p99_ms / baseline.p99_ms:.1f}x"
    )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-server":
        asyncio.run(baseline_server(int(sys.argv[2])))
    else:
        main()
