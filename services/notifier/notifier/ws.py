"""The WebSocket endpoint ``/ws`` (DESIGN.md section 6, contract).

Connect with ``?token=`` or an ``Authorization: Bearer`` header. Frames are
``{"event": NAME, "data": {...}}``; stored notifications also carry ``id``, the cursor to
``resume`` from after a reconnect.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from fastapi import APIRouter, WebSocket, WebSocketDisconnect

from kliniki.access import frame_for
from kliniki.auth import InvalidToken, Principal, bearer_token
from kliniki.kernel import Kernel
from notifier import feed
from notifier.hub import CLOSE_SLOW_CONSUMER, Connection, Hub

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
MAX_CLIENT_FRAME_BYTES = 16_384


def websocket_router(hub: Hub) -> APIRouter:
    router = APIRouter()

    @router.websocket("/ws")
    async def websocket_endpoint(websocket: WebSocket) -> None:
        kernel: Kernel = websocket.app.state.kernel
        token = websocket.query_params.get("token") or bearer_token(
            websocket.headers.get("authorization")
        )
        await websocket.accept()
        try:
            if not token:
                raise InvalidToken("no token: connect with ?token= or an Authorization header")
            principal = kernel.verifier.verify(token)
        except InvalidToken as exc:
            await websocket.close(code=CLOSE_UNAUTHORIZED, reason=f"unauthorized: {exc}"[:120])
            return
        connection = Connection(websocket, principal)
        hub.add(connection)
        session = ClientSession(kernel, hub, connection)
        tasks = {
            asyncio.create_task(connection.write_forever()),
            asyncio.create_task(session.read_forever()),
            asyncio.create_task(connection.closed.wait()),
        }
        try:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if connection.closed.is_set():
                with contextlib.suppress(Exception):
                    await websocket.close(
                        code=CLOSE_SLOW_CONSUMER,
                        reason="too slow reading frames; reconnect and resume",
                    )
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            hub.remove(connection)

    return router


class ClientSession:
    """Reads one client's frames and answers them."""

    def __init__(self, kernel: Kernel, hub: Hub, connection: Connection) -> None:
        self.kernel = kernel
        self.hub = hub
        self.connection = connection

    @property
    def principal(self) -> Principal:
        return self.connection.principal

    async def read_forever(self) -> None:
        websocket = self.connection.websocket
        while True:
            try:
                text = await websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError):
                return
            if len(text) > MAX_CLIENT_FRAME_BYTES:
                self.error(f"frames are limited to {MAX_CLIENT_FRAME_BYTES} bytes")
                continue
            try:
                frame = json.loads(text)
                event, data = frame["event"], frame.get("data") or {}
                if not isinstance(event, str) or not isinstance(data, dict):
                    raise TypeError
            except (ValueError, KeyError, TypeError):
                self.error('a frame is a JSON object {"event": NAME, "data": {...}}')
                continue
            await self.handle(event, data)

    def error(self, message: str, event: str | None = None) -> None:
        self.connection.send_frame("error", {"message": message, "inReplyTo": event})

    async def handle(self, event: str, data: dict[str, Any]) -> None:
        if event == "ping":
            self.connection.send_frame("pong", {})
        elif event == "resume":
            after = data.get("after", 0)
            if not isinstance(after, int) or after < 0:
                self.error("resume needs {after: <the last id you received>}", event)
                return
            await self.resume(after)
        elif event == "mark_read":
            ids = data.get("ids")
            if not isinstance(ids, list) or not all(isinstance(i, int) for i in ids):
                self.error("mark_read needs {ids: [<notification ids>]}", event)
                return
            async with self.kernel.sessionmaker() as session:
                count = await feed.mark_read(session, self.principal, ids[:1000])
                await session.commit()
            self.connection.send_frame("marked_read", {"count": count})
        else:
            self.error(f"unknown event {event!r}", event)

    async def resume(self, after: int) -> None:
        """Send what the user missed after ``after``, in order and once, then go on live."""
        conn = self.connection
        conn.replaying = True
        try:
            cursor = max(after, 0)
            conn.cursor = max(conn.cursor, cursor)
            while True:
                async with self.kernel.sessionmaker() as session:
                    batch = await feed.missed_since(session, self.principal, cursor)
                for notification in batch:
                    data = frame_for(notification.event, notification.data, self.principal.roles)
                    cursor = notification.id
                    if data is None or notification.id <= conn.cursor:
                        continue
                    conn.replaying = False  # let this one through in order
                    conn.send_frame(notification.event, data, notification.id)
                    conn.replaying = True
                if len(batch) < feed.REPLAY_BATCH:
                    break
        finally:
            conn.end_replay()
        conn.send_frame("resumed", {"cursor": conn.cursor})
