"""The sockets this notifier replica holds, and delivery of frames to them.

Each connection has a bounded send buffer drained by its own writer task, so one slow or
stuck client never delays anyone else: when its buffer is full it is closed (code 4408) and
may reconnect and ``resume``. Every frame passes ``kliniki.access.frame_for`` on its way out.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge
from starlette.websockets import WebSocket

from kliniki.access import frame_for
from kliniki.auth import Principal

log = logging.getLogger(__name__)

SEND_BUFFER_FRAMES = 1_000
CLOSE_SLOW_CONSUMER = 4408

CONNECTIONS = Gauge("kliniki_ws_connections", "Open WebSocket connections")
FRAMES_SENT = Counter("kliniki_ws_frames_sent_total", "Frames queued to sockets", ["event"])
SLOW_CLOSED = Counter("kliniki_ws_slow_consumers_closed_total", "Sockets closed for not reading")


class Connection:
    def __init__(self, websocket: WebSocket, principal: Principal) -> None:
        self.websocket = websocket
        self.principal = principal
        self.cursor = 0  # the highest notification id this socket has been sent
        self.replaying = False
        self._held: list[dict[str, Any]] = []  # live frames that arrived during a replay
        self._queue: asyncio.Queue[str | None] = asyncio.Queue(SEND_BUFFER_FRAMES)
        self.closed = asyncio.Event()

    def send_frame(self, event: str, data: dict[str, Any], frame_id: int | None = None) -> None:
        """Queue a frame; stored notifications (with an id) go out once, in id order."""
        if frame_id is not None:
            if self.replaying:
                self._held.append({"event": event, "data": data, "id": frame_id})
                return
            if frame_id <= self.cursor:
                return
            self.cursor = frame_id
        frame: dict[str, Any] = {"event": event, "data": data}
        if frame_id is not None:
            frame["id"] = frame_id
        try:
            self._queue.put_nowait(json.dumps(frame, default=str))
        except asyncio.QueueFull:
            SLOW_CLOSED.inc()
            log.warning("closing %s's socket: it is not reading its frames", self.principal.user_id)
            self.closed.set()
            return
        FRAMES_SENT.labels(event).inc()

    def end_replay(self) -> None:
        self.replaying = False
        held, self._held = sorted(self._held, key=lambda f: f["id"]), []
        for frame in held:
            self.send_frame(frame["event"], frame["data"], frame["id"])

    async def write_forever(self) -> None:
        while True:
            text = await self._queue.get()
            if text is None:
                return
            await self.websocket.send_text(text)


class Hub:
    def __init__(self) -> None:
        self._by_user: dict[str, set[Connection]] = defaultdict(set)

    def add(self, connection: Connection) -> None:
        self._by_user[connection.principal.user_id].add(connection)
        CONNECTIONS.inc()

    def remove(self, connection: Connection) -> None:
        user = connection.principal.user_id
        self._by_user[user].discard(connection)
        if not self._by_user[user]:
            del self._by_user[user]
        CONNECTIONS.dec()

    def connections(self) -> Iterable[Connection]:
        for conns in list(self._by_user.values()):
            yield from list(conns)

    def deliver(self, notification: dict[str, Any]) -> int:
        """Push one stored notification to every local socket entitled to it."""
        user_id = notification.get("recipientUserId")
        roles = frozenset(notification.get("recipientRoles") or ())
        targets = (
            list(self._by_user.get(user_id, ()))
            if user_id
            else [c for c in self.connections() if c.principal.roles & roles]
        )
        delivered = 0
        for conn in targets:
            data = frame_for(notification["event"], notification["data"], conn.principal.roles)
            if data is not None:
                conn.send_frame(notification["event"], data, notification["id"])
                delivered += 1
        return delivered

    async def close_all(self, code: int, reason: str) -> None:
        for conn in list(self.connections()):
            with contextlib.suppress(Exception):
                await conn.websocket.close(code=code, reason=reason)
