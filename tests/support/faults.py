"""Means for the fault tests: a side stack of its own, a PostgreSQL of its own, the counts.

A :class:`SideStack` is a few services of the session's stack started again with their own
databases and their own broker namespace, so they never take messages from (or give them to)
the session's consumers; leaving it stops its processes, drops its databases and deletes its
queues and exchanges. A :class:`LocalPostgres` is a throwaway PostgreSQL server the test may
restart. Neither ever touches the machine's shared servers beyond its own names.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.scenario import another_patient
from tests.support.stack import ServiceProcess, Stack, auth, delete_broker_names, free_port


def proxied_amqp_url(amqp_url: str, proxy_port: int) -> str:
    """``amqp_url`` with its host and port replaced by a local proxy's."""
    parts = urlsplit(amqp_url)
    userinfo = parts.netloc.rpartition("@")[0]
    netloc = f"{userinfo}@127.0.0.1:{proxy_port}" if userinfo else f"127.0.0.1:{proxy_port}"
    return urlunsplit(parts._replace(netloc=netloc))


def broker_address(amqp_url: str) -> tuple[str, int]:
    parts = urlsplit(amqp_url)
    return parts.hostname or "127.0.0.1", parts.port or 5672


@dataclass
class SideStack:
    """Some services with their own databases (``<session db>_<suffix>``) and namespace."""

    stack: Stack
    suffix: str
    postgres_url: str
    env: dict[str, str]
    processes: list[ServiceProcess] = field(default_factory=list)

    @property
    def namespace(self) -> str:
        return f"{self.stack.namespace}{self.suffix}."

    def database(self, service: str) -> str:
        return f"{self.stack.database(service)}_{self.suffix}"

    def service_env(self, service: str) -> dict[str, str]:
        return {
            "KLINIKI_POSTGRES_URL": self.postgres_url,
            "KLINIKI_DATABASE_NAME": self.database(service),
            "KLINIKI_BROKER_NAMESPACE": self.namespace,
            **self.env,
        }

    async def migrate(self, services: list[str]) -> None:
        for service in services:
            await asyncio.to_thread(self.stack.migrate, [service], **self.service_env(service))

    async def start(self, service: str) -> ServiceProcess:
        """Start ``service`` (again, after a kill) and wait until it is ready."""
        proc = self.stack.start(
            service, name=f"{service}-{self.suffix}", **self.service_env(service)
        )
        self.processes.append(proc)
        await asyncio.to_thread(self.stack.wait_ready, proc, 60.0)
        return proc

    async def connect_db(self, service: str) -> asyncpg.Connection:
        return await asyncpg.connect(f"{self.postgres_url.rstrip('/')}/{self.database(service)}")

    async def close(self, services: list[str]) -> None:
        for proc in self.processes:
            await asyncio.to_thread(proc.stop)
        try:
            conn = await asyncpg.connect(f"{self.postgres_url.rstrip('/')}/postgres")
            try:
                for service in services:
                    await conn.execute(
                        f'drop database if exists "{self.database(service)}" with (force)'
                    )
            finally:
                await conn.close()
        finally:
            await delete_broker_names(self.stack.amqp_url, self.namespace)


@contextlib.asynccontextmanager
async def side_stack(
    stack: Stack,
    suffix: str,
    services: list[str],
    postgres_url: str | None = None,
    **env: str,
) -> AsyncIterator[SideStack]:
    """Migrate ``services`` into their own databases; remove everything afterwards."""
    side = SideStack(stack, suffix, postgres_url or stack.postgres_url, env)
    try:
        await side.migrate(services)
        yield side
    finally:
        await side.close(services)


def postgres_bin_dir() -> Path | None:
    """Debian's PostgreSQL server binaries (the newest version installed), if any."""
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin"),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    for bin_dir in reversed(candidates):
        if (bin_dir / "initdb").exists() and (bin_dir / "pg_ctl").exists():
            return bin_dir
    return None


class LocalPostgres:
    """A PostgreSQL server of the test's own: trust auth, a free port, all in a temp dir."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="kliniki-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"
        self.as_postgres = os.geteuid() == 0  # the server refuses to run as root
        if self.as_postgres:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/"

    def _run(self, tool: str, *args: str) -> None:
        command = [str(self.bin_dir / tool), *args]
        if self.as_postgres:
            command = ["runuser", "-u", "postgres", "--", *command]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            log = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{tool} failed: {result.stdout}{result.stderr}\n{log}")

    def _pg_ctl(self, action: str, *args: str) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-t", "60",
            "-o", options, *args,
        )  # fmt: skip

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8")
        self._pg_ctl("start")

    def restart(self) -> None:
        """A clean restart: sessions are terminated, in-flight transactions roll back."""
        self._pg_ctl("restart", "-m", "fast")

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(RuntimeError, subprocess.TimeoutExpired):
                self._run("pg_ctl", "stop", "-D", str(self.data), "-m", "immediate", "-w")
        shutil.rmtree(self.root, ignore_errors=True)


@contextlib.contextmanager
def local_postgres(bin_dir: Path) -> Iterator[LocalPostgres]:
    server = LocalPostgres(bin_dir)
    try:
        server.start()
        yield server
    finally:
        server.destroy()


async def register(http: httpx.AsyncClient, base: str) -> dict:
    response = await http.post(
        f"{base}/patients", json=another_patient(), headers=auth("alice_receptionist")
    )
    assert response.status_code == 201, response.text
    return response.json()


async def ready(http: httpx.AsyncClient, proc: ServiceProcess) -> int:
    try:
        return (await http.get(f"{proc.url}/readyz", timeout=5)).status_code
    except httpx.HTTPError:
        return 0


async def consumed(http: httpx.AsyncClient, proc: ServiceProcess, outcome: str) -> int:
    """The process's ``kliniki_events_consumed_total{outcome=...}``, over all its queues."""
    text = (await http.get(f"{proc.url}/metrics")).text
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if (
                sample.name == "kliniki_events_consumed_total"
                and sample.labels.get("outcome") == outcome
            ):
                total += sample.value
    return int(total)


async def assignments_per_patient(db: asyncpg.Connection, patient_ids: list[str]) -> list[int]:
    """How many triage assignments each of ``patient_ids`` has (0 for none)."""
    rows = await db.fetch(
        "select p.id, count(a.patient_id) as n from unnest($1::text[]) as p(id)"
        " left join assignments a on a.patient_id = p.id group by p.id",
        patient_ids,
    )
    return [r["n"] for r in rows]


async def outbox_counts(db: asyncpg.Connection, routing_key: str) -> tuple[int, int]:
    """(committed, delivered) events of ``routing_key`` in a service's outbox."""
    row = await db.fetchrow(
        "select count(*) as committed, count(published_at) as delivered from outbox"
        " where routing_key = $1",
        routing_key,
    )
    return row["committed"], row["delivered"]


def report(fault: str, **counts: int) -> None:
    """The figures the closing note of the issue asks for, printed with ``-s``."""
    figures = ", ".join(f"{name.replace('_', ' ')}={value}" for name, value in counts.items())
    print(f"\n[{fault}] {figures}")
