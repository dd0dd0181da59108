"""Registrations per second, whole pipeline, against a bare one-INSERT endpoint in the same run.

Closed loop: USERS clients each register a patient (``POST /patients`` at registration) and
wait until Sarah's ``new_assignment`` frame for that patient arrives (triage took the event,
placed the assignment, the notifier stored and pushed the frame), then register the next. The
baseline is a bare FastAPI + asyncpg endpoint doing one INSERT and one commit, under the same
uvicorn, the same client and the same concurrency (bench/bare_insert_app.py). Also printed: one
user alone, and the pipeline with OpenTelemetry exporting to a local OTLP receiver (the cost
of tracing, issue 15).

    make bench BENCH=bench_registration_throughput   # DURATION=8 USERS=10 by default
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import websockets

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.support import PIPELINE, percentile, start_pipeline  # noqa: E402
from tests.scenario import another_patient  # noqa: E402
from tests.support.stack import Stack, auth, free_port, servers  # noqa: E402

DURATION = float(os.environ.get("DURATION", "8"))
USERS = int(os.environ.get("USERS", "10"))
SERVICES = PIPELINE
WARM_UP = 10  # registrations before the clock starts


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) a process has used so far: ``/proc/<pid>/stat`` (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def io_calls(pid: int) -> int:
    """Read and write system calls a process has made so far (``/proc/<pid>/io``): each
    statement to PostgreSQL, publish and HTTP answer is at least one write and one read."""
    fields = dict(line.split(": ") for line in Path(f"/proc/{pid}/io").read_text().splitlines())
    return int(fields["syscr"]) + int(fields["syscw"])


def services_cpu(stack: Stack) -> dict[str, float]:
    return {name: cpu_seconds(stack.processes[name].process.pid) for name in SERVICES}


BACKENDS = {"postgres": "PostgreSQL", "beam.smp": "RabbitMQ"}


def backends_cpu() -> dict[str, float]:
    """CPU seconds so far of this machine's PostgreSQL (every backend) and RabbitMQ: their
    share of a registration's cost (a backend that exits during a run takes its part along)."""
    total = dict.fromkeys(BACKENDS.values(), 0.0)
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            name = BACKENDS.get((proc / "comm").read_text().strip())
            if name is not None:
                total[name] += cpu_seconds(int(proc.name))
        except (FileNotFoundError, ProcessLookupError):
            continue  # exited meanwhile
    return total


def services_io_calls(stack: Stack) -> dict[str, int]:
    return {name: io_calls(stack.processes[name].process.pid) for name in SERVICES}


class CpuMeter:
    """CPU milliseconds per registration, per service, less what each uses idle (its polls
    and heartbeats): unlike a rate, it hardly depends on what else the machine runs."""

    IDLE_SECONDS = 3.0

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        first = services_cpu(stack)
        time.sleep(self.IDLE_SECONDS)
        idle = services_cpu(stack)
        self.idle_per_second = {n: (idle[n] - first[n]) / self.IDLE_SECONDS for n in SERVICES}

    def start(self) -> None:
        self.started, self.before = time.perf_counter(), services_cpu(self.stack)
        self.calls_before = services_io_calls(self.stack)
        self.backends_before = backends_cpu()

    def line(self, count: int) -> str:
        seconds, after = time.perf_counter() - self.started, services_cpu(self.stack)
        calls_after = services_io_calls(self.stack)
        per = {
            n: 1000 * (after[n] - self.before[n] - self.idle_per_second[n] * seconds) / count
            for n in SERVICES
        }
        calls = {n: (calls_after[n] - self.calls_before[n]) / count for n in SERVICES}
        backends_after = backends_cpu()
        backends = ", ".join(
            f"{name} {1000 * (backends_after[name] - self.backends_before[name]) / count:.1f} ms"
            for name in BACKENDS.values()
        )
        parts = ", ".join(f"{name} {ms:.1f}" for name, ms in per.items())
        call_parts = ", ".join(f"{name} {n:.0f}" for name, n in calls.items())
        return (
            f"  CPU per registration ({USERS} users): {sum(per.values()):.1f} ms ({parts})\n"
            f"  read+write system calls per registration: {sum(calls.values()):.0f} "
            f"({call_parts})\n  and per registration: {backends}"
        )


def summary(name: str, latencies: list[float], seconds: float) -> tuple[float, str]:
    rate = len(latencies) / seconds
    ms = [v * 1000 for v in latencies]
    return rate, (
        f"{name}: {rate:.1f}/s, p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 99):.1f} ms"
        f" ({len(ms)} in {seconds:.1f} s, {USERS if 'alone' not in name else 1} user(s))"
    )


# -- the baseline ----------------------------------------------------------------------------


def bare_baseline(pg_url: str) -> tuple[list[float], float]:
    database = f"kliniki_bench_bare_{os.getpid()}"
    dsn = f"{pg_url.rstrip('/')}/{database}"
    asyncio.run(_admin(pg_url, f'create database "{database}"'))
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable, "-m", "uvicorn", "bench.bare_insert_app:app",
            "--host", "127.0.0.1", "--port", str(port), "--no-access-log", "--log-level", "warning",
            "--loop", "uvloop", "--http", "httptools",
        ],
        cwd=REPO,
        env={**os.environ, "BARE_DSN": dsn},
    )  # fmt: skip
    try:
        return asyncio.run(_load_bare(f"http://127.0.0.1:{port}/items", server.pid))
    finally:
        server.terminate()
        server.wait()
        asyncio.run(_admin(pg_url, f'drop database if exists "{database}" with (force)'))


async def _admin(pg_url: str, sql: str) -> None:
    conn = await asyncpg.connect(f"{pg_url.rstrip('/')}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


# CPU ms, system calls, and PostgreSQL's CPU ms per request of the last baseline run
BARE_COSTS = [0.0, 0.0, 0.0]


async def _load_bare(url: str, pid: int) -> tuple[list[float], float]:
    async with httpx.AsyncClient() as http:
        for _ in range(100):
            try:
                if (await http.post(url, json={"name": "warm"})).status_code == 201:
                    break
            except httpx.HTTPError:
                await asyncio.sleep(0.1)

        async def one() -> None:
            response = await http.post(url, json={"name": "John Doe"})
            assert response.status_code == 201

        cpu, calls, postgres = cpu_seconds(pid), io_calls(pid), backends_cpu()["PostgreSQL"]
        latencies, seconds = await closed_loop(one, USERS)
        BARE_COSTS[:] = [
            1000 * (cpu_seconds(pid) - cpu) / len(latencies),
            (io_calls(pid) - calls) / len(latencies),
            1000 * (backends_cpu()["PostgreSQL"] - postgres) / len(latencies),
        ]
        return latencies, seconds


# -- Kliniki ---------------------------------------------------------------------------------


async def closed_loop(one: Any, users: int) -> tuple[list[float], float]:
    latencies: list[float] = []
    stop = time.perf_counter() + DURATION

    async def user() -> None:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(user() for _ in range(users)))
    return latencies, time.perf_counter() - started


async def pipeline(stack: Stack, users: int) -> tuple[list[float], float]:
    waiting: dict[str, asyncio.Future[None]] = {}
    async with (
        websockets.connect(stack.ws_url("nurse_sarah"), max_size=2**22) as sarah,
        httpx.AsyncClient(timeout=30) as http,
    ):

        async def read() -> None:
            async for text in sarah:
                frame = json.loads(text)
                if frame["event"] == "new_assignment":
                    # The frame can come before the POST's answer has been read: then the
                    # registration finds its future done (it used to wait out its timeout).
                    future = waiting.setdefault(frame["data"]["patientId"], loop.create_future())
                    if not future.done():
                        future.set_result(None)

        loop = asyncio.get_running_loop()
        reader = asyncio.create_task(read())
        url = f"{stack.url('registration')}/patients"
        headers = auth("alice_receptionist")

        async def one() -> None:
            response = await http.post(url, json=another_patient(), headers=headers)
            assert response.status_code == 201, response.text
            patient_id = response.json()["id"]
            future = waiting.setdefault(patient_id, loop.create_future())
            await asyncio.wait_for(future, timeout=30)

        for _ in range(WARM_UP):  # warm up connections and caches
            await one()
        result = await closed_loop(one, users)
        reader.cancel()
        return result


class _Sink(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def kliniki(pg_url: str, amqp_url: str, tracing_endpoint: str | None) -> list[str]:
    stack = Stack(pg_url, amqp_url)
    env = {}
    if tracing_endpoint:
        env = {"OTEL_EXPORTER_OTLP_ENDPOINT": tracing_endpoint, "OTEL_TRACES_EXPORTER": "otlp"}
    try:
        start_pipeline(stack, SERVICES, **env)
        if tracing_endpoint:
            rate, line = summary("  with tracing exported", *asyncio.run(pipeline(stack, USERS)))
            return [line]
        meter = CpuMeter(stack)
        alone = summary("  one user alone", *asyncio.run(pipeline(stack, 1)))[1]
        meter.start()
        latencies, seconds = asyncio.run(pipeline(stack, USERS))
        cpu = meter.line(len(latencies) + WARM_UP)
        rate, line = summary(f"  {USERS} users", latencies, seconds)
        return [f"{rate}", line, alone, cpu]
    finally:
        stack.stop_all()
        stack.cleanup()


def main() -> None:
    with servers() as (pg_url, amqp_url):
        base_rate, base_line = summary("bare FastAPI + asyncpg INSERT", *bare_baseline(pg_url))
        rate, *lines = kliniki(pg_url, amqp_url, None)
        sink = ThreadingHTTPServer(("127.0.0.1", free_port()), _Sink)
        threading.Thread(target=sink.serve_forever, daemon=True).start()
        try:
            traced = kliniki(pg_url, amqp_url, f"http://127.0.0.1:{sink.server_address[1]}")
        finally:
            sink.shutdown()
    print(f"baseline, {base_line}")
    cpu_ms, calls, postgres_ms = BARE_COSTS
    print(
        f"  per request: CPU {cpu_ms:.2f} ms, read+write system calls {calls:.0f}, "
        f"PostgreSQL {postgres_ms:.2f} ms"
    )
    print("registration -> triage -> notifier -> Sarah's frame:")
    for line in [*lines, *traced]:
        print(line)
    print(f"ratio ({USERS} users, registrations/s over the baseline's requests/s): "
          f"{float(rate) / base_rate:.3f}x")  # fmt: skip


if __name__ == "__main__":
    main()
