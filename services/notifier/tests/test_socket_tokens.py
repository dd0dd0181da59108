"""Tokens on the WebSocket: never in a log line, sent the browser's way (Sec-WebSocket-Protocol),
and a socket ends with 4401 when its token expires unless the client sent a fresh one."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re

import websockets

from tests.support.live import StaffSocket
from tests.support.stack import STAFF, Stack, signed_token, token

JWT = re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*")


def short_token(user: str, seconds: float) -> str:
    member = STAFF.get(user)
    assert member is not None
    now = dt.datetime.now(dt.UTC)
    return signed_token(
        {
            "sub": member.id,
            "name": member.name,
            "roles": member.roles,
            "iat": now,
            "exp": now + dt.timedelta(seconds=seconds),
        }
    )


def ws_base(stack: Stack) -> str:
    return f"ws://127.0.0.1:{stack.processes['notifier'].port}/ws"


async def test_a_socket_is_closed_with_4401_when_its_token_expires(stack: Stack) -> None:
    async with StaffSocket(f"{ws_base(stack)}?token={short_token('nurse_sarah', 3)}", "s") as s:
        await s.send("ping")
        await s.wait_for("pong")
        await s.wait_closed(timeout=15)
        assert s.close_code == 4401
        assert "expired" in (s.close_reason or "")


async def test_a_fresh_token_keeps_the_socket_open(stack: Stack) -> None:
    async with StaffSocket(f"{ws_base(stack)}?token={short_token('dr_smith', 3)}", "d") as s:
        await s.send("authenticate", {"token": token("dr_smith")})
        await s.wait_for("authenticated")
        await asyncio.sleep(5)  # past the first token's expiry
        await s.send("ping")
        await s.wait_for("pong")
        assert not s.closed
        # Someone else's token cannot take the socket over.
        await s.send("authenticate", {"token": token("nurse_sarah")})
        error = await s.wait_for("error", lambda d: d.get("inReplyTo") == "authenticate")
        assert "stays with the user" in error["data"]["message"]


async def test_browsers_send_the_token_as_a_subprotocol_not_in_the_url(stack: Stack) -> None:
    async with websockets.connect(
        ws_base(stack), subprotocols=["kliniki.bearer", token("lisa_pharmacist")]
    ) as ws:
        assert ws.subprotocol == "kliniki.bearer"
        await ws.send(json.dumps({"event": "ping", "data": {}}))
        events = []
        while "pong" not in events:
            events.append(json.loads(await asyncio.wait_for(ws.recv(), 10))["event"])
        assert "error" not in events


async def test_no_log_line_holds_a_token(stack: Stack) -> None:
    secret = token("tom_cashier")
    async with StaffSocket(f"{ws_base(stack)}?token={secret}", "tom") as s:
        await s.send("ping")
        await s.wait_for("pong")
    await asyncio.sleep(0.5)  # the handshake line is written
    notifier_log = stack.processes["notifier"].log_path.read_text(errors="replace")
    assert "token=[redacted]" in notifier_log
    leaks = []
    for path in stack.log_dir.glob(f"{stack.run_id}-*.log"):
        for line in path.read_text(errors="replace").splitlines():
            if JWT.search(line) or secret in line:
                leaks.append(f"{path.name}: {line[:200]}")
    assert not leaks, leaks
