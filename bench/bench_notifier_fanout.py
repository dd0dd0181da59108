"""A notifier with 2,000, then 5,000 authenticated sockets: frames/s, memory per socket, latency.

For each audience size (``BENCH_CLIENTS``, default ``2000,5000``) it starts its own notifier
(own database and broker names, removed after), connects that many sockets with tokens of
made-up staff of every role (``bench_<i>``, added to the run's staff directory), then
publishes the two events that make a ``patient_registered`` for all staff (triage's
``assignment.created``, then registration's ``patient.registered``) and watches every
socket receive it:

- latency: from publishing ``patient.registered`` to each socket's frame, one broadcast at a
  time (p50 and p99 over all sockets and broadcasts);
- throughput: BURST broadcasts published back to back, frames received per second until the
  last socket has the last one;
- memory: the notifier's resident memory with the sockets open minus before, per socket.

The baseline, in the same run on the same machine: a plain ``websockets`` server that calls
``websockets.broadcast`` for each message a publisher socket sends (no auth, no broker, no
database), measured the same way by the same clients. Traffic stays on 127.0.0.1.

``BENCH_BASELINE_COMPRESSION=none`` runs the baseline without permessage-deflate (websockets'
default is on; the notifier never compresses). ``BENCH_PROFILE=1`` also samples the notifier
with py-spy while it is measured, prints its heaviest functions and keeps the collapsed stacks
in .run/profiles/notifier-fanout-<n>.txt.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import resource
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aio_pika
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import yaml

from bench.support import percentile
from kliniki.contracts.registration import PatientRegistered
from kliniki.events import CloudEvent
from kliniki.worklist.domain import AssignmentStatus, Priority
from kliniki.worklist.schemas import AssignmentEvent
from tests.support.stack import STAFF, Stack, free_port, servers, signed_token

SIZES = [int(n) for n in os.environ.get("BENCH_CLIENTS", "2000,5000").split(",")]
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
# websockets' default is permessage-deflate (the clients offer it too); "none" turns it off in
# the baseline (the notifier never compresses: see services/notifier/notifier/wire.py).
BASELINE_COMPRESSION = os.environ.get("BENCH_BASELINE_COMPRESSION", "deflate")
PROFILES = Path(__file__).resolve().parents[1] / ".run" / "profiles"
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


def raise_fd_limit(clients: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard, max(soft, 2 * clients + 1000))
    resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
    if wanted < 2 * clients + 200:
        raise SystemExit(f"the open-file limit ({hard}) is too low for {clients} sockets")


def bench_roles(clients: int) -> list[str]:
    """The role of each socket's user ``bench_<i>``: every role in turn."""
    return [ROLES[i % len(ROLES)] for i in range(clients)]


def bench_staff_file(stack: Stack, clients: int) -> Path:
    """The notifier's staff directory with the bench's users in it: it lets only active staff
    connect. (Identity keeps the usual one: it would hash a password for each of these.)"""
    staff = [m.model_dump(by_alias=True) for m in STAFF.staff]
    staff += [
        {"id": f"bench_{i}", "name": f"Bench Staff {i}", "roles": [role], "onDuty": False}
        for i, role in enumerate(bench_roles(clients))
    ]
    path = stack.log_dir / f"{stack.run_id}-bench-staff.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump({"staff": staff}, sort_keys=False))
    return path


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@dataclass
class Audience:
    """The sockets of one run, each noting when each broadcast (by number) reached it."""

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


async def notifier_figures(stack: Stack, pid: int, port: int, clients: int) -> Figures:
    tokens = [
        signed_token({"sub": f"bench_{i}", "name": f"Bench Staff {i}", "roles": [role]})
        for i, role in enumerate(bench_roles(clients))
    ]
    urls = [f"ws://127.0.0.1:{port}/ws?token={t}" for t in tokens]
    connection = await aio_pika.connect(stack.amqp_url)
    channel = await connection.channel(publisher_confirms=True)
    registration = await channel.get_exchange(f"{stack.namespace}registration.events")
    triage = await channel.get_exchange(f"{stack.namespace}triage.events")

    async def publish(number: int) -> None:
        patient, visit = f"bench-{number}", f"visit-{number}-{uuid.uuid4().hex[:6]}"
        # Triage's assignment first; registration's event completes patient_registered.
        now = dt.datetime.now(dt.UTC)
        # Built from the contracts, as triage's and registration's outboxes would.
        assignment = CloudEvent(
            source="/services/triage",
            type="assignment.created.v1",
            subject=patient,
            visitid=visit,
            data=AssignmentEvent(
                id=f"assignment-{number}",
                assignment_type="TRIAGE",
                patient_id=patient,
                visit_id=visit,
                patient_name="John Doe",
                op_number=f"OP{number}",
                priority=Priority.NORMAL,
                status=AssignmentStatus.ACTIVE,
                assigned_to_user_id="bench_nurse",
                assigned_to_name="Bench Nurse",
                created_by="system",
                created_at=now,
                updated_at=now,
                completed_at=None,
                version=1,
                change="created",
            ).model_dump(mode="json", by_alias=True),
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
            data=PatientRegistered(
                patient_id=patient,
                visit_id=visit,
                op_number=f"OP{number}",
                first_name="John",
                last_name="Doe",
                gender="MALE",
                age=45,
                insurance_type="CASH",
                version=1,
                registered_by="alice_receptionist",
                registered_at=now,
            ).model_dump(mode="json", by_alias=True),
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
        with profiled(pid, f"notifier-fanout-{clients}"):
            latencies, fps = await measure(audience, publish, 0)
    finally:
        await audience.close()
        await connection.close()
    return Figures(
        fps,
        (after - before) / clients,
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

    compression = None if BASELINE_COMPRESSION == "none" else BASELINE_COMPRESSION
    async with websockets.serve(
        handler, "127.0.0.1", port, ping_interval=None, backlog=2048, compression=compression
    ):
        await asyncio.Future()


async def baseline_figures(pid: int, port: int, clients: int) -> Figures:
    publisher = await websockets.connect(f"ws://127.0.0.1:{port}/publish")

    async def publish(number: int) -> None:
        await publisher.send(f"bench-{number}")

    audience = Audience()
    try:
        await asyncio.sleep(1)
        before = rss_bytes(pid)
        await audience.connect([f"ws://127.0.0.1:{port}/"] * clients)
        await asyncio.sleep(2)
        after = rss_bytes(pid)
        latencies, fps = await measure(audience, publish, 0)
    finally:
        await audience.close()
        await publisher.close()
    return Figures(
        fps,
        (after - before) / clients,
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


def run_baseline(clients: int) -> Figures:
    port = free_port()
    server = subprocess.Popen([sys.executable, __file__, "--baseline-server", str(port)])
    try:
        wait_for_port(port, server)
        return asyncio.run(baseline_figures(server.pid, port, clients))
    finally:
        server.terminate()
        server.wait(timeout=15)


def run_notifier(clients: int) -> Figures:
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        staff_file = str(bench_staff_file(stack, clients))
        try:
            stack.migrate(["identity"])
            stack.migrate(["notifier"], KLINIKI_STAFF_FILE=staff_file)
            stack.start_identity()  # the notifier verifies tokens with identity's keys
            proc = stack.start(
                "notifier",
                KLINIKI_LOG_LEVEL="WARNING",
                KLINIKI_LOG_JSON="false",
                KLINIKI_STAFF_FILE=staff_file,
            )
            stack.wait_ready(proc)
            return asyncio.run(notifier_figures(stack, proc.process.pid, proc.port, clients))
        finally:
            stack.stop_all()
            stack.cleanup()


@contextlib.contextmanager
def profiled(pid: int, name: str) -> Iterator[None]:
    """With BENCH_PROFILE=1: py-spy samples ``pid`` meanwhile; its heaviest functions printed."""
    if not PROFILE:
        yield
        return
    PROFILES.mkdir(parents=True, exist_ok=True)
    out = PROFILES / f"{name}.txt"
    spy = subprocess.Popen(
        [
            *(str(Path(sys.executable).parent / "py-spy"), "record", "--pid", str(pid)),
            *("--rate", "200", "--format", "raw", "--output", str(out), "--nonblocking"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield
    finally:
        spy.send_signal(signal.SIGINT)  # py-spy writes its file when interrupted
        spy.wait(timeout=60)
    from bench.profile_pipeline import summarise

    print(f"{name} (py-spy, {out}):", *summarise(out), sep="\n")


def report(name: str, f: Figures) -> None:
    print(
        f"  {name:<28} {f.frames_per_second:>10,.0f} frames/s {f.bytes_per_socket / 1024:>7.1f} KiB"
        f"/socket   latency p50 {f.p50_ms:>7.1f} ms  p99 {f.p99_ms:>7.1f} ms"
    )


def main() -> None:
    raise_fd_limit(max(SIZES))
    started = time.monotonic()
    results = [(n, run_notifier(n), run_baseline(n)) for n in SIZES]
    print(
        f"latency over {LATENCY_ROUNDS} broadcasts one at a time, throughput over {BURST} "
        f"back to back ({time.monotonic() - started:.0f} s in all)"
    )
    for clients, notifier, baseline in results:
        print(f"{clients} sockets:")
        report("notifier (auth, broker, db)", notifier)
        report(f"websockets.broadcast ({BASELINE_COMPRESSION})", baseline)
        print(
            f"  notifier / baseline: throughput "
            f"{notifier.frames_per_second / baseline.frames_per_second:.2f}x,"
            f" memory {notifier.bytes_per_socket / baseline.bytes_per_socket:.1f}x,"
            f" latency p50 {notifier.p50_ms / baseline.p50_ms:.1f}x,"
            f" p99 {notifier.p99_ms / baseline.p99_ms:.1f}x"
        )


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-server":
        asyncio.run(baseline_server(int(sys.argv[2])))
    else:
        main()
