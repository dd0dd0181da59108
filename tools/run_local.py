"""Run the whole system on this machine: ``make run``.

Creates and migrates each service's database, then starts identity and, once it answers, the
seven other services on their contract ports with their output prefixed by name; they verify
tokens with identity's keys (``KLINIKI_JWT_JWKS_URL``, identity's /.well-known/jwks.json unless
set). Ctrl-C (or SIGTERM) stops them all cleanly. Configuration comes from the environment
(``KLINIKI_*``, see the README).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import time
import urllib.request
from pathlib import Path

from kliniki.settings import SERVICE_PORTS, SERVICE_WS_PROTOCOLS

SERVICES = ["identity", *(s for s in SERVICE_PORTS if s != "identity")]  # identity first
COLOURS = [97, 31, 32, 33, 34, 35, 36, 37]


async def run(
    cmd: list[str], name: str, colour: int, env: dict[str, str], cwd: Path | None = None
) -> asyncio.subprocess.Process:
    process = await asyncio.create_subprocess_exec(
        *cmd, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT, env=env, cwd=cwd
    )

    async def pump() -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            sys.stdout.write(f"\x1b[{colour}m{name:>12}\x1b[0m | {line.decode(errors='replace')}")
            sys.stdout.flush()

    process.output_pump = asyncio.create_task(pump())  # type: ignore[attr-defined]
    return process


JWKS_PATH = "/.well-known/jwks.json"


async def wait_ready(url: str, process: asyncio.subprocess.Process, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.returncode is None:
        try:
            await asyncio.to_thread(urllib.request.urlopen, url, timeout=1)
            return True
        except OSError:
            await asyncio.sleep(0.3)
    return False


CONSOLE_PORT = int(os.environ.get("KLINIKI_CONSOLE_PORT", "8080"))
WEB = Path(__file__).resolve().parents[1] / "web"


async def start_console(host: str, env: dict[str, str]) -> asyncio.subprocess.Process | None:
    """The built console (web/dist) on one origin: Vite's preview server, /api/<service> and /ws
    proxied to the services started above (their ports, KLINIKI_<SERVICE>_URL to override)."""
    node = shutil.which("node")
    vite = WEB / "node_modules" / "vite" / "bin" / "vite.js"
    if node is None or not vite.exists() or not (WEB / "dist" / "index.html").exists():
        print("the console is not built (make install needs Node 20 and npm); services only")
        return None
    console_env = dict(env)
    for service, default in SERVICE_PORTS.items():
        port = os.environ.get(f"KLINIKI_{service.upper()}_PORT", str(default))
        console_env.setdefault(f"KLINIKI_{service.upper()}_URL", f"http://{host}:{port}")
    cmd = [node, str(vite), "preview", "--host", host, "--port", str(CONSOLE_PORT), "--strictPort"]
    return await run(cmd, "console", 90, console_env, cwd=WEB)


async def main() -> int:
    env = dict(os.environ)
    migrate = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "kliniki.migrate", *SERVICES, env=env
    )
    if await migrate.wait() != 0:
        print("migrations failed: is PostgreSQL running at KLINIKI_POSTGRES_URL?", file=sys.stderr)
        return 1
    processes = []
    host = os.environ.get("KLINIKI_HOST", "127.0.0.1")
    identity_port = str(SERVICE_PORTS["identity"])
    for index, service in enumerate(SERVICES):
        port = os.environ.get(f"KLINIKI_{service.upper()}_PORT", str(SERVICE_PORTS[service]))
        if service != "identity":
            env.setdefault("KLINIKI_JWT_JWKS_URL", f"http://{host}:{identity_port}{JWKS_PATH}")
        cmd = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            f"{service}.main:create_app",
            "--host",
            host,
            "--port",
            port,
            "--loop",
            "uvloop",
            "--http",
            "httptools",
            "--ws-max-size",
            "65536",
            "--ws",
            SERVICE_WS_PROTOCOLS.get(service, "auto"),
            "--timeout-graceful-shutdown",
            "10",
            "--timeout-keep-alive",
            "75",  # longer than clients' and load balancers' idle keep-alive
            "--no-access-log",
        ]
        processes.append(await run(cmd, service, COLOURS[index], dict(env)))
        if service == "identity":
            identity_port = port
            if not await wait_ready(f"http://{host}:{port}/readyz", processes[0]):
                print("identity did not start; see its output above", file=sys.stderr)
                processes[0].send_signal(signal.SIGTERM)
                return 1
    console = await start_console(host, env)
    if console is not None:
        processes.append(console)
    print(
        "Kliniki is running: identity http://127.0.0.1:8008, registration http://127.0.0.1:8001"
        " ... notifier ws://127.0.0.1:8007/ws"
        + (f"; the staff console at http://{host}:{CONSOLE_PORT}" if console else "")
    )

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    exited = [asyncio.create_task(p.wait()) for p in processes]
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait([stopper, *exited], return_when=asyncio.FIRST_COMPLETED)
    code = 0 if stop.is_set() else 1
    if not stop.is_set():
        print("a service exited; stopping the others", file=sys.stderr)
    for p in processes:
        if p.returncode is None:
            p.send_signal(signal.SIGTERM)
    await asyncio.wait_for(asyncio.gather(*(p.wait() for p in processes)), timeout=20)
    print("all services stopped")
    return code


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
