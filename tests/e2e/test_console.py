"""The staff console in real Chromium against real services (web/e2e, Playwright).

Starts its own stack (every service on free ports, its own databases and broker names, so the
scenario's OP numbers replay from OP12345 and restarting the notifier disturbs no other test),
serves the built console with Vite's preview server pointed at those ports, and runs
``npx playwright test``. A small control server lets a browser test stop and start the notifier.
Skipped when Node or Chromium is missing; `make install` builds web/dist.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.stack import ALL_SERVICES, REPO, ServiceProcess, Stack, free_port, servers

WEB = REPO / "web"
CHROMIUM = os.environ.get("KLINIKI_CHROMIUM", "/usr/bin/chromium")
NPX = shutil.which("npx")
NODE = shutil.which("node")

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(NPX is None, reason="Node.js (npx) is not installed"),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no Chromium at {CHROMIUM}"),
    pytest.mark.skipif(
        not (WEB / "node_modules").exists() or not (WEB / "dist" / "index.html").exists(),
        reason="the console is not installed and built (make install)",
    ),
]


# ``POST /start/<service>?escalation=seconds``: waiting-time targets of seconds (0.1 min = 6 s),
# so a browser test sees a patient escalate (web/e2e/05-board.spec.ts).
FAST_ESCALATION = {
    "KLINIKI_WAIT_TARGET_MINUTES": json.dumps(
        {"RED": 0, "ORANGE": 0.1, "YELLOW": 0.1, "GREEN": 0.1, "UNTRIAGED": 0.1}
    ),
    "KLINIKI_ESCALATION_POLL_SECONDS": "0.5",
}


def restart(stack: Stack, proc: ServiceProcess, *, start: bool, **env: str) -> None:
    """Stop a service, or start it again on the same port (the console's proxy points there)."""
    if not start:
        proc.stop()
        return
    log = proc.log_path.open("ab")
    proc.process = subprocess.Popen(
        proc.process.args, env=stack.env(proc.name, **env), stdout=log, stderr=subprocess.STDOUT
    )
    stack.wait_ready(proc)


@contextlib.contextmanager
def control_server(stack: Stack) -> Iterator[str]:
    """POST /stop/<service> and /start/<service>[?escalation=seconds] for the browser tests."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            path, _, query = self.path.partition("?")
            _, action, service = path.split("/")
            proc = stack.processes.get(service)
            if proc is None or action not in ("stop", "start"):
                self.send_response(404)
                self.end_headers()
                return
            env = FAST_ESCALATION if query == "escalation=seconds" else {}
            restart(stack, proc, start=action == "start", **env)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


@contextlib.contextmanager
def console(stack: Stack) -> Iterator[str]:
    """The built console on a free port, its /api and /ws proxied to this stack's services."""
    port = free_port()
    env = {**os.environ}
    for service, proc in stack.processes.items():
        env[f"KLINIKI_{service.upper()}_URL"] = proc.url
    log = (stack.log_dir / f"{stack.run_id}-console.log").open("ab")
    process = subprocess.Popen(
        [
            NODE or "node",
            str(WEB / "node_modules" / "vite" / "bin" / "vite.js"),
            "preview",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--strictPort",
            "--bypass-lock",  # `make run` may be serving the console from this folder too
        ],
        cwd=WEB,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(url, timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the console's preview server did not start")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def own_stack() -> Iterator[Stack]:
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            stack.migrate(ALL_SERVICES)
            stack.start_identity()  # the others verify tokens with its keys
            for service in ALL_SERVICES:
                if service != "identity":
                    stack.start(service)
            for proc in stack.processes.values():
                stack.wait_ready(proc)
            yield stack
        finally:
            stack.stop_all()
            stack.cleanup()


def test_the_console_in_chromium(own_stack: Stack) -> None:
    """web/e2e/*.spec.ts: the whole visit with six people, conflicts, reconnects, axe, bad input."""
    artifacts = REPO / "web" / "test-artifacts"
    with console(own_stack) as url, control_server(own_stack) as control:
        env = {
            **os.environ,
            "KLINIKI_CONSOLE_URL": url,
            "KLINIKI_E2E_CONTROL": control,
            "KLINIKI_E2E_ARTIFACTS": str(artifacts),
            "PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD": "1",
            "KLINIKI_CHROMIUM": CHROMIUM,
        }
        result = subprocess.run(
            [NPX or "npx", "playwright", "test", *os.environ.get("KLINIKI_E2E_ARGS", "").split()],
            cwd=WEB,
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,  # seven specs; the machine may be shared and loaded
        )
    print(result.stdout[-20000:])
    assert result.returncode == 0, (
        result.stdout[-8000:] + result.stderr[-4000:] + failure_context(own_stack)
    )


LOUD = ("error", "warning")


def failure_context(stack: Stack) -> str:
    """What a failed run leaves for whoever reads CI's output: what each failed page showed
    (Playwright's accessibility snapshot) and what the services logged as errors or warnings."""
    parts: list[str] = []
    for context in sorted((WEB / "test-results").glob("*/error-context.md")):
        text = context.read_text(errors="replace")
        snapshot = text.split("```yaml", 1)[-1].split("```", 1)[0] if "```yaml" in text else ""
        parts.append(f"\n--- page at failure, {context.parent.name} ---{snapshot[-3000:]}")
    for name, proc in sorted(stack.processes.items()):
        lines = proc.log_path.read_text(errors="replace").splitlines()
        bad = [line[:400] for line in lines if any(f'"level": "{lv}"' in line for lv in LOUD)]
        if bad:
            parts.append(f"\n--- {name}: last errors and warnings ---\n" + "\n".join(bad[-8:]))
    return "".join(parts)
