"""The JavaScript client, as served by the notifier, run by Node against a real replica.

Its connection goes through a TCP proxy the test cuts: the client must reconnect by itself,
resume without losing or repeating a notification, and open its entity again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from services.notifier.tests.live_support import (
    LiveSocket,
    patient_id,
    replica,
    store_notifications,
)
from tests.support.stack import Stack, token
from tests.support.tcp_proxy import TcpProxy

NODE = shutil.which("node")

DRIVER = """
const path = process.argv[2], url = process.argv[3], token = process.argv[4];
const patient = process.argv[5];
const KlinikiLive = require(path);
const live = KlinikiLive.connect({
  url, token, minDelayMs: 100, maxDelayMs: 400, heartbeatMs: 300, typingIdleMs: 300,
});
let opens = 0;
live.on("*", (data, frame) => console.log(JSON.stringify(frame)));
live.on("open", () => {
  opens += 1;
  if (opens === 1) live.emit("entity_edit_start", { entityType: "patient", entityId: patient });
  if (opens === 2) setTimeout(() => live.typing(patient, "vital_signs"), 200);
});
"""


class NodeClient:
    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.frames: list[dict[str, Any]] = []
        self._arrived = asyncio.Condition()
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.process.stdout is not None
        async for line in self.process.stdout:
            with contextlib.suppress(ValueError):
                frame = json.loads(line)
                async with self._arrived:
                    self.frames.append(frame)
                    self._arrived.notify_all()

    async def wait_for(self, event: str, where: Any = lambda _: True) -> dict[str, Any]:
        def find() -> dict[str, Any] | None:
            return next(
                (f for f in self.frames if f["event"] == event and where(f.get("data") or {})),
                None,
            )

        async with asyncio.timeout(20), self._arrived:
            await self._arrived.wait_for(lambda: find() is not None or self._reader.done())
        frame = find()
        assert frame is not None, f"node ended ({self.process.returncode}) before {event}"
        return frame

    def count(self, event: str) -> int:
        return len([f for f in self.frames if f["event"] == event])


@contextlib.asynccontextmanager
async def node_client(script_dir: Path, *args: str) -> AsyncIterator[NodeClient]:
    assert NODE is not None
    driver = script_dir / "driver.js"
    driver.write_text(DRIVER)
    process = await asyncio.create_subprocess_exec(
        NODE,
        "--experimental-websocket",
        "--no-warnings",
        str(driver),
        *args,
        stdout=asyncio.subprocess.PIPE,
    )
    client = NodeClient(process)
    try:
        yield client
    finally:
        with contextlib.suppress(ProcessLookupError):  # it may have ended: the assertion says why
            process.kill()
        await process.wait()
        client._reader.cancel()


async def test_the_js_client_is_served_as_a_static_file(stack: Stack) -> None:
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{stack.url('notifier')}/static/kliniki-live.js")
    assert r.status_code == 200
    assert "javascript" in r.headers["content-type"]
    assert "KlinikiLive" in r.text


@pytest.mark.skipif(NODE is None, reason="Node.js is not installed")
async def test_the_js_client_reconnects_resumes_and_reopens_by_itself(
    stack: Stack, tmp_path: Path
) -> None:
    john = patient_id()
    with replica(stack, "notifier-js") as proc:
        async with httpx.AsyncClient() as http:
            source = await http.get(f"{proc.url}/static/kliniki-live.js")
        library = tmp_path / "kliniki-live.js"
        library.write_text(source.text)
        proxy = await TcpProxy("127.0.0.1", proc.port).start()
        url = f"ws://127.0.0.1:{proxy.port}/ws"
        try:
            async with (
                LiveSocket(stack.ws_url("dr_smith", proc), "dr_smith") as smith,
                node_client(tmp_path, str(library), url, token("nurse_sarah"), john) as sarah,
            ):
                await smith.open_entity("patient", john)
                await sarah.wait_for("presence_state", lambda d: d["entityId"] == john)
                await smith.wait_join(john, "nurse_sarah")

                def note(n: int) -> tuple[str, dict[str, Any], str, None]:
                    return ("new_assignment", {"patientId": john, "n": n}, "nurse_sarah", None)

                (first,) = await store_notifications(stack, [note(1)])
                await sarah.wait_for("new_assignment", lambda d: d["n"] == 1)

                proxy.cut()  # the Wi-Fi drops
                await sarah.wait_for("close")
                await smith.wait_leave(john, "nurse_sarah")
                missed = await store_notifications(stack, [note(2), note(3)])
                proxy.restore()

                # Back by itself: the missed two replayed, the patient open again, typing works.
                await sarah.wait_for("new_assignment", lambda d: d["n"] == 3)
                await sarah.wait_for("resumed")
                rejoined = await smith.wait_for(
                    "presence_diff",
                    lambda d: (
                        "nurse_sarah" in [m["userId"] for m in d["joins"]]
                        and len(smith.diffs(john)) >= 3
                    ),
                )
                assert rejoined["data"]["entityId"] == john
                await smith.wait_for("typing", lambda d: d["field"] == "vital_signs")
                await smith.wait_for(
                    "typing", lambda d: d["field"] == "vital_signs" and not d["isTyping"]
                )
                ids = [f["id"] for f in sarah.frames if f["event"] == "new_assignment"]
                assert ids == [first, *missed]
                assert sarah.count("open") == 2
        finally:
            await proxy.close()
