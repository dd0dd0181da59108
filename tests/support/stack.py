"""A running Kliniki for tests: real services as processes, real PostgreSQL and RabbitMQ.

Where the servers come from, in order: ``KLINIKI_TEST_POSTGRES_URL`` / ``KLINIKI_TEST_AMQP_URL``
(or the ``KLINIKI_POSTGRES_URL`` / ``KLINIKI_AMQP_URL`` the services use), else containers
started by testcontainers when a Docker engine answers, else the local defaults. A run uses
its own databases (``kliniki_t<run>_<service>``) and its own exchange and queue names (prefix
``t<run>.``), so it never disturbs a system running on the same servers, and removes them after.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import httpx
import jwt
import yaml
from identity import domain as identity_domain

from kliniki.access import Role
from kliniki.settings import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    DEV_PASSWORD,
    SERVICE_PORTS,
    SERVICE_WS_PROTOCOLS,
)
from kliniki.staff import load_staff

REPO = Path(__file__).resolve().parents[2]
ALL_SERVICES = list(SERVICE_PORTS)
STAFF = load_staff(REPO / "deploy" / "staff.yaml")
TEST_RETRY_DELAYS_MS = "[100, 300, 600]"
# Partitions per consumer purpose in tests: fewer quorum queues than the default 8 to set up
# and remove per run (tests of partitioning itself choose their own, at most MAX_PARTITIONS).
TEST_PARTITIONS = "4"
MAX_PARTITIONS = 8

# The test run's signing key. Identity is started with it as its configured key
# (KLINIKI_SIGNING_KEY, as a Kubernetes Secret would give it), signs with it and publishes its
# public half; every other service verifies through identity's JWKS. Tests sign with the same
# key, so a test token is exactly what identity would issue, without a sign-in per token
# (argon2 is deliberately slow). tests/test_identity*.py sign in through identity for real.
TEST_SIGNING_KEY = identity_domain.generate_private_key()
TEST_SIGNING_PEM = identity_domain.private_key_pem(TEST_SIGNING_KEY)
TEST_KID = identity_domain.public_jwk(TEST_SIGNING_KEY)["kid"]


# Ports handed out in this run. A port found free is not bound until its service starts, and
# asking the kernel for any free port (port 0) may hand the same one out again meanwhile, or
# give it to an outgoing connection (to PostgreSQL, say): two services once got one port. So
# ports come from below the kernel's ephemeral range (32768 and up on Linux), once each.
_HANDED_OUT: set[int] = set()


def free_port() -> int:
    while True:
        port = random.randint(20000, 32000)
        if port in _HANDED_OUT:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _HANDED_OUT.add(port)
        return port


def _docker_available() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0


@contextlib.contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(postgres server URL, AMQP URL) for this test run."""
    pg = os.environ.get("KLINIKI_TEST_POSTGRES_URL") or os.environ.get("KLINIKI_POSTGRES_URL")
    amqp = os.environ.get("KLINIKI_TEST_AMQP_URL") or os.environ.get("KLINIKI_AMQP_URL")
    if pg and amqp:
        yield pg, amqp
        return
    if _docker_available():
        from testcontainers.postgres import PostgresContainer
        from testcontainers.rabbitmq import RabbitMqContainer

        with PostgresContainer("postgres:15") as pg_c, RabbitMqContainer("rabbitmq:3.13") as mq_c:
            pg_url = (
                f"postgresql://{pg_c.username}:{pg_c.password}@"
                f"{pg_c.get_container_host_ip()}:{pg_c.get_exposed_port(5432)}/"
            )
            params = mq_c.get_connection_params()
            mq_url = f"amqp://guest:guest@{params.host}:{params.port}/"
            yield pg or pg_url, amqp or mq_url
        return
    yield (
        pg or "postgresql://postgres@127.0.0.1:5432/",
        amqp or "amqp://guest:guest@127.0.0.1:5672/",
    )


@dataclass
class ServiceProcess:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class Stack:
    """The services of one test run and the means to talk to them."""

    postgres_url: str
    amqp_url: str
    run_id: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    processes: dict[str, ServiceProcess] = field(default_factory=dict)
    extra: list[ServiceProcess] = field(default_factory=list)
    log_dir: Path = field(default_factory=lambda: REPO / ".run" / "test-logs")
    jwks_url: str | None = None  # identity's, once it runs: every other service verifies with it

    @property
    def staff_file(self) -> Path:
        """This run's seed of the staff directory: deploy/staff.yaml and, for the access-matrix
        walk, one member per role (walker_<role>, off duty)."""
        path = self.log_dir / f"{self.run_id}-staff.yaml"
        if not path.exists():
            self.log_dir.mkdir(parents=True, exist_ok=True)
            staff = [m.model_dump(by_alias=True) for m in STAFF.staff]
            staff += [
                {
                    "id": f"walker_{role.value}",
                    "name": f"Walker ({role.value})",
                    "roles": [role.value],
                    "onDuty": False,
                }
                for role in Role
            ]
            path.write_text(yaml.safe_dump({"staff": staff}, sort_keys=False))
        return path

    @property
    def namespace(self) -> str:
        return f"t{self.run_id}."

    def database(self, service: str) -> str:
        return f"kliniki_t{self.run_id}_{service}"

    def env(self, service: str, **overrides: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("KLINIKI_")}
        env.update(
            {
                "KLINIKI_SERVICE_NAME": service,
                "KLINIKI_POSTGRES_URL": self.postgres_url,
                "KLINIKI_DATABASE_NAME": self.database(service),
                "KLINIKI_AMQP_URL": self.amqp_url,
                "KLINIKI_BROKER_NAMESPACE": self.namespace,
                "KLINIKI_CONSUMER_RETRY_DELAYS_MS": TEST_RETRY_DELAYS_MS,
                "KLINIKI_CONSUMER_PARTITIONS": TEST_PARTITIONS,
                "KLINIKI_LOG_LEVEL": "INFO",
                "KLINIKI_STAFF_FILE": str(self.staff_file),
                # The suite sends many writes and refused tokens from one address on purpose;
                # tests of the limits start a service with them set (test_edge.py).
                "KLINIKI_RATE_LIMIT_AUTH_FAILURES": "",
                "KLINIKI_RATE_LIMIT_WRITES": "",
            }
        )
        if service == "identity":
            env["KLINIKI_SIGNING_KEY"] = TEST_SIGNING_PEM
            # The run's key stays published after a rotation test for longer than any run.
            env["KLINIKI_KEY_OVERLAP_SECONDS"] = "7200"
        elif self.jwks_url:
            env["KLINIKI_JWT_JWKS_URL"] = self.jwks_url
        env.update(overrides)
        return env

    def migrate(self, services: list[str], **env: str) -> None:
        for service in services:
            subprocess.run(
                [sys.executable, "-m", "kliniki.migrate", service],
                env=self.env(service, **env),
                check=True,
                capture_output=True,
            )

    def start(self, service: str, *, name: str | None = None, **env: str) -> ServiceProcess:
        """Start one service process (wait for it with ``wait_ready``)."""
        name = name or service
        port = free_port()
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.log_dir / f"{self.run_id}-{name}.log"
        log = log_path.open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"{service}.main:create_app",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-access-log",
                "--loop",
                "uvloop",
                "--http",
                "httptools",
                "--ws-max-size",
                "65536",
                "--ws",
                SERVICE_WS_PROTOCOLS.get(service, "auto"),
                # Longer than clients' idle keep-alive: a reused connection is never closed
                # under a request (httpx keeps idle connections 5 s, uvicorn's default too).
                "--timeout-keep-alive",
                "75",
            ],
            env=self.env(service, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        proc = ServiceProcess(name, port, process, log_path)
        if name == service and service not in self.processes:
            self.processes[service] = proc
        else:
            self.extra.append(proc)
        return proc

    def start_identity(self) -> ServiceProcess:
        """Identity first: the others verify tokens with its JWKS."""
        proc = self.start("identity")
        self.wait_ready(proc)
        self.jwks_url = f"{proc.url}/.well-known/jwks.json"
        return proc

    def wait_ready(
        self, proc: ServiceProcess, timeout: float = 120.0, path: str = "/readyz"
    ) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.process.poll() is not None:
                raise RuntimeError(f"{proc.name} exited:\n{proc.log_tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(proc.url + path, timeout=1).status_code == 200:
                    return
            time.sleep(0.1)
        raise TimeoutError(f"{proc.name} not ready in {timeout}s:\n{proc.log_tail()}")

    def url(self, service: str) -> str:
        return self.processes[service].url

    def ws_url(self, user: str, proc: ServiceProcess | None = None) -> str:
        port = (proc or self.processes["notifier"]).port
        return f"ws://127.0.0.1:{port}/ws?token={token(user)}"

    async def connect_db(self, service: str, database: str | None = None) -> asyncpg.Connection:
        name = database or self.database(service)
        return await asyncpg.connect(f"{self.postgres_url.rstrip('/')}/{name}")

    async def publish_raw(self, service: str, routing_key: str, body: bytes) -> None:
        """Put bytes on ``<service>.events`` as if that service had published them."""
        import aio_pika

        connection = await aio_pika.connect(self.amqp_url)
        try:
            channel = await connection.channel(publisher_confirms=True)
            exchange = await channel.get_exchange(f"{self.namespace}{service}.events")
            await exchange.publish(aio_pika.Message(body, delivery_mode=2), routing_key=routing_key)
        finally:
            await connection.close()

    async def dead_letters(self, queue: str) -> list[tuple[bytes, dict]]:
        """Take every message from ``<queue>.dead`` (e.g. ``triage.inbox``)."""
        import aio_pika

        connection = await aio_pika.connect(self.amqp_url)
        out = []
        try:
            channel = await connection.channel()
            dead = await channel.get_queue(f"{self.namespace}{queue}.dead")
            while (message := await dead.get(fail=False, no_ack=True)) is not None:
                out.append((message.body, dict(message.headers or {})))
        finally:
            await connection.close()
        return out

    def stop_all(self) -> None:
        for proc in [*self.extra, *self.processes.values()]:
            proc.stop()

    def cleanup(self) -> None:
        asyncio.run(self._drop_everything())

    async def _drop_everything(self) -> None:
        conn = await asyncpg.connect(f"{self.postgres_url.rstrip('/')}/postgres")
        try:
            names = await conn.fetch(
                "select datname from pg_database where datname like $1", f"kliniki_t{self.run_id}_%"
            )
            for row in names:
                await conn.execute(f'drop database if exists "{row["datname"]}" with (force)')
        finally:
            await conn.close()
        await delete_broker_names(self.amqp_url, self.namespace)


async def roll_call(amqp_url: str, queue: str) -> int:
    """Replicas answering a consumer's roll call: the consumers of its ``<purpose>.replicas``
    queue (0 while the queue is not there yet)."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    try:
        channel = await connection.channel()
        declared = await channel.declare_queue(queue, passive=True)
        return declared.declaration_result.consumer_count or 0
    except aio_pika.exceptions.ChannelClosed:
        return 0
    finally:
        await connection.close()


async def delete_broker_names(
    amqp_url: str, namespace: str, partitions: int = MAX_PARTITIONS
) -> None:
    """Delete this run's queues and exchanges (their names are known: see kliniki.consumer)."""
    import aio_pika

    connection = await aio_pika.connect(amqp_url)
    try:
        queues: list[str] = []
        exchanges: list[str] = []
        for consumer in (
            "triage.inbox",
            "clinical.inbox",
            "lab.inbox",
            "pharmacy.inbox",
            "billing.inbox",
            "registration.inbox",
            "notifier.notifications",
            *(f"{s}.staff" for s in ALL_SERVICES if s != "identity"),
            "test.probe",
            "ordertest.orders",  # tests/test_consumer_partitions.py
        ):
            base = f"{namespace}{consumer}"
            queues += [
                *(f"{base}.p{i}" for i in range(partitions)),
                f"{base}.dead",
                f"{base}.replicas",
                *(f"{base}.retry.{ms}ms" for ms in yaml.safe_load(TEST_RETRY_DELAYS_MS)),
            ]
            exchanges.append(base)  # the purpose's consistent-hash exchange
        # One channel while it lasts (deleting a missing queue is no error); a new one after
        # the broker closed it over a refusal.
        channel = await connection.channel()
        for name in queues:
            if channel.is_closed:
                channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(name)
        for name in [*exchanges, *(f"{namespace}{service}.events" for service in ALL_SERVICES)]:
            if channel.is_closed:
                channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.exchange_delete(name)
    finally:
        await connection.close()


def signed_token(claims: dict[str, object], key: object = None, kid: str = TEST_KID) -> str:
    """A token signed with the run's key (what identity issues), with the usual claims."""
    now = dt.datetime.now(dt.UTC)
    body = {
        "iss": DEFAULT_ISSUER,
        "aud": DEFAULT_AUDIENCE,
        "iat": now,
        "exp": now + dt.timedelta(hours=1),
        "jti": uuid.uuid4().hex,
        **claims,
    }
    return jwt.encode(body, key or TEST_SIGNING_KEY, algorithm="ES256", headers={"kid": kid})


# Tools that run against `make run` (the demo) set this to identity's URL: their tokens then
# come from a real sign-in with the development password instead of the test run's key.
SIGN_IN_URL: str | None = None
_signed_in: dict[str, str] = {}


def sign_in(base_url: str, user_id: str, password: str = DEV_PASSWORD) -> httpx.Response:
    """The OAuth2 password grant at identity."""
    return httpx.post(
        f"{base_url}/auth/token",
        data={"grant_type": "password", "username": user_id, "password": password},
        timeout=15,
    )


def token(user_id: str, **overrides: object) -> str:
    if SIGN_IN_URL and not overrides:
        if user_id not in _signed_in:
            response = sign_in(SIGN_IN_URL, user_id)
            response.raise_for_status()
            _signed_in[user_id] = response.json()["access_token"]
        return _signed_in[user_id]
    member = STAFF.get(user_id)
    if member is None:
        raise KeyError(f"{user_id} is not in deploy/staff.yaml")
    return signed_token({"sub": member.id, "name": member.name, "roles": member.roles, **overrides})


def auth(user_id: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(user_id)}"}
