"""The sockets this notifier replica holds, and delivery of frames to them.

Each connection has a bounded send buffer drained by its own writer task, so one slow or
stuck client never delays anyone else: when its buffer is full, or one send has not progressed
for a while, it is closed (code 4408) and may reconnect and ``resume``. Every frame passes
``kliniki.access.live_frame_for`` on its way out (``Connection.deliver``).

Stored notifications (frames with an ``id``) reach a socket once each. A connection knows the
range of ids it has sent, ``(sent_from, cursor]``: live delivery extends it upwards in id order
(see ``live.py``), and ``resume {after}`` fills in what lies below it and above it, so a frame
that arrived live just before the client's ``resume`` is not sent twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from prometheus_client import Counter, Gauge, Histogram
from starlette.websockets import WebSocket

from kliniki.access import live_frame_for
from kliniki.auth import Principal

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4408

CONNECTIONS = Gauge("kliniki_ws_connections", "Open WebSocket connections")
FRAMES_SENT = Counter("kliniki_ws_frames_sent_total", "Frames queued to sockets", ["event"])
SLOW_CLOSED = Counter("kliniki_ws_slow_consumers_closed_total", "Sockets closed for not reading")
SEND_QUEUE = Gauge("kliniki_ws_send_queue_frames", "Frames queued to sockets, not yet written")
WRITE_TO_FRAME = Histogram(
    "kliniki_notification_delivery_seconds",
    "From the change at its source service to its frame queued to a socket here",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class Connection:
    def __init__(
        self,
        websocket: WebSocket,
        principal: Principal,
        *,
        send_buffer_frames: int = 1_000,
        stalled_send_seconds: float = 30.0,
    ) -> None:
        self.websocket = websocket
        self.principal = principal
        # (sent_from, cursor]: the stored notifications this socket has been sent.
        self.sent_from: int | None = None  # set by the hub when live delivery starts
        self.cursor = 0
        self.replaying = False
        self._held: list[tuple[int, str, str]] = []  # live frames that came during a replay
        self._queue: asyncio.Queue[str] = asyncio.Queue(send_buffer_frames)
        self._stalled_send_seconds = stalled_send_seconds
        self.closed = asyncio.Event()  # set when the client is too slow and must go

    def deliver(self, event: str, data: dict[str, Any], frame_id: int | None = None) -> bool:
        """Send a frame if the access policy lets this user see it; False if it does not."""
        visible = live_frame_for(event, data, self.principal.roles)
        if visible is None:
            return False
        self.send_frame(event, visible, frame_id)
        return True

    def send_frame(self, event: str, data: dict[str, Any], frame_id: int | None = None) -> None:
        """Queue a frame already cleared for this user."""
        self.send_encoded(event, _encode(event, data, frame_id), frame_id)

    def send_encoded(self, event: str, text: str, frame_id: int | None = None) -> None:
        """Queue an encoded frame; stored notifications (with an id) go out once, in id order."""
        if frame_id is not None:
            if self.replaying:
                self._held.append((frame_id, event, text))
                return
            if frame_id <= self.cursor:
                return
            self.cursor = frame_id
        try:
            self._queue.put_nowait(text)
        except asyncio.QueueFull:
            self.too_slow("its send buffer is full")
            return
        FRAMES_SENT.labels(event).inc()

    async def send_replayed(self, event: str, data: dict[str, Any], frame_id: int) -> None:
        """Queue a replayed frame, waiting for room: a replay is paced by the client's reading."""
        try:
            await asyncio.wait_for(
                self._queue.put(_encode(event, data, frame_id)), self._stalled_send_seconds
            )
        except TimeoutError:
            self.too_slow("it stopped reading its replay")
            return
        self.cursor = max(self.cursor, frame_id)
        FRAMES_SENT.labels(event).inc()

    def too_slow(self, why: str) -> None:
        if not self.closed.is_set():
            SLOW_CLOSED.inc()
            log.warning("closing %s's socket: %s", self.principal.user_id, why)
            self.closed.set()

    def end_replay(self) -> None:
        self.replaying = False
        held, self._held = sorted(self._held), []
        for frame_id, event, text in held:
            self.send_encoded(event, text, frame_id)

    async def write_forever(self) -> None:
        while True:
            text = await self._queue.get()
            try:
                await asyncio.wait_for(self.websocket.send_text(text), self._stalled_send_seconds)
            except TimeoutError:
                self.too_slow("one frame has waited too long to be sent")
                return

    @property
    def queued(self) -> int:
        return self._queue.qsize()

    def drop_queued(self) -> None:
        """Forget frames not yet sent (the socket is closing; ``resume`` brings them back)."""
        while not self._queue.empty():
            self._queue.get_nowait()


def _encode(event: str, data: dict[str, Any], frame_id: int | None) -> str:
    frame: dict[str, Any] = {"event": event, "data": data}
    if frame_id is not None:
        frame["id"] = frame_id
    return json.dumps(frame, default=str)


class Hub:
    def __init__(self) -> None:
        self._by_user: dict[str, set[Connection]] = defaultdict(set)
        self._floor: int | None = None  # the live tail when sockets join (see live.py)
        # Summed when /metrics is read, not on every frame.
        SEND_QUEUE.set_function(lambda: sum(c.queued for c in self.connections()))

    def set_floor(self, position: int) -> None:
        """Live delivery starts after ``position``: sockets that came before learn it now."""
        self._floor = position
        for conn in self.connections():
            if conn.sent_from is None:
                conn.sent_from = conn.cursor = position

    def add(self, connection: Connection, live_from: int | None) -> None:
        """``live_from``: the last id already delivered live here (this socket gets the rest)."""
        if live_from is not None:
            connection.sent_from = connection.cursor = live_from
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
        event, frame_id = notification["event"], notification["id"]
        # Encoded once per distinct set of roles, not once per socket: a broadcast to every
        # member of staff is the common case.
        encoded: dict[frozenset[str], str | None] = {}
        delivered = 0
        for conn in targets:
            roles = conn.principal.roles
            if roles not in encoded:
                visible = live_frame_for(event, notification["data"], roles)
                encoded[roles] = None if visible is None else _encode(event, visible, frame_id)
            text = encoded[roles]
            if text is not None:
                conn.send_encoded(event, text, frame_id)
                delivered += 1
        written_at = notification.get("writtenAt")
        if delivered and isinstance(written_at, str):
            WRITE_TO_FRAME.observe(
                (dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(written_at)).total_seconds()
            )
        return delivered

    async def close_all(self, code: int, reason: str) -> None:
        for conn in list(self.connections()):
            with contextlib.suppress(Exception):
                await conn.websocket.close(code=code, reason=reason)
