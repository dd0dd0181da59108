"""The sockets this notifier replica holds, and delivery of frames to them.

A frame is encoded once per audience that sees the same bytes (one per set of roles, since the
access policy trims by role) and written to each socket's transport without waiting
(``wire.py``), so one slow or stuck client never delays anyone else. A client that does not
keep up is closed (code 4408) and may reconnect and ``resume``: when more than
``send_buffer_frames`` frames had to be queued behind its transport's 64 KiB high-water mark,
or when its transport stayed above that mark for ``stalled_send_seconds``. Every frame passes
``kliniki.access.live_frame_for`` on its way out.

Stored notifications (frames with an ``id``) reach a socket once each. A connection knows the
range of ids it has sent, ``(sent_from, cursor]``: live delivery extends it upwards in id order
(see ``live.py``), and ``resume {after}`` fills in what lies below it and above it, so a frame
that arrived live just before the client's ``resume`` is not sent twice.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from opentelemetry.trace import SpanKind
from prometheus_client import Counter, Gauge, Histogram

from kliniki import tracing
from kliniki.access import live_frame_for
from kliniki.auth import Principal
from notifier.wire import WireProtocol, encode_text_frame

log = logging.getLogger(__name__)

CLOSE_SLOW_CONSUMER = 4408
SLOW_REASON = "too slow reading frames; reconnect and resume"

CONNECTIONS = Gauge("kliniki_ws_connections", "Open WebSocket connections")
FRAMES_SENT = Counter("kliniki_ws_frames_sent_total", "Frames written to sockets", ["event"])
SLOW_CLOSED = Counter("kliniki_ws_slow_consumers_closed_total", "Sockets closed for not reading")
SEND_QUEUE = Gauge(
    "kliniki_ws_send_queue_bytes", "Bytes written to sockets that their clients have not taken"
)
WRITE_TO_FRAME = Histogram(
    "kliniki_notification_delivery_seconds",
    "From the change at its source service to its frame written to a socket here",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class Connection:
    """One socket of one signed-in user."""

    __slots__ = (
        "_backlog",
        "_close_timeout",
        "_held",
        "_send_buffer_frames",
        "_stalled_send_seconds",
        "closed",
        "cursor",
        "principal",
        "replaying",
        "sent_from",
        "wire",
    )

    def __init__(
        self,
        wire: WireProtocol,
        principal: Principal,
        *,
        send_buffer_frames: int = 1_000,
        stalled_send_seconds: float = 30.0,
        close_timeout_seconds: float = 5.0,
    ) -> None:
        self.wire = wire
        self.principal = principal
        # (sent_from, cursor]: the stored notifications this socket has been sent.
        self.sent_from: int | None = None  # set by the hub when live delivery starts
        self.cursor = 0
        self.replaying = False
        self._held: list[tuple[int, bytes]] = []  # live frames that came during a replay
        self._send_buffer_frames = send_buffer_frames
        self._stalled_send_seconds = stalled_send_seconds
        self._close_timeout = close_timeout_seconds
        self._backlog = 0  # frames written while the transport was above its high-water mark
        self.closed = False  # closing: nothing more is written
        wire.watch_stalls(stalled_send_seconds, self._stalled)

    def deliver(self, event: str, data: dict[str, Any], frame_id: int | None = None) -> bool:
        """Send a frame if the access policy lets this user see it; False if it does not."""
        visible = live_frame_for(event, data, self.principal.roles)
        if visible is None:
            return False
        self.send_frame(event, visible, frame_id)
        return True

    def send_frame(self, event: str, data: dict[str, Any], frame_id: int | None = None) -> None:
        """Send a frame already cleared for this user."""
        if self.send_encoded(encode_frame(event, data, frame_id), frame_id):
            FRAMES_SENT.labels(event).inc()

    def send_encoded(self, frame: bytes, frame_id: int | None = None) -> bool:
        """Write an encoded frame; stored notifications (with an id) go out once, in id order.
        True if it was written (or held for after a replay)."""
        if frame_id is not None:
            if self.replaying:
                self._held.append((frame_id, frame))
                return True
            if frame_id <= self.cursor:
                return False
            self.cursor = frame_id
        if self.closed:
            return False
        if self.wire.paused:
            self._backlog += 1
            if self._backlog > self._send_buffer_frames:
                self.too_slow("its send buffer is full")
                return False
        else:
            self._backlog = 0
        self.wire.write_frame(frame)
        return True

    async def send_replayed(self, event: str, data: dict[str, Any], frame_id: int) -> None:
        """Send a replayed frame, waiting for room: a replay is paced by the client's reading."""
        if self.wire.paused:
            try:
                await asyncio.wait_for(self.wire.until_writable(), self._stalled_send_seconds)
            except TimeoutError:
                self.too_slow("it stopped reading its replay")
                return
        if self.closed:
            return
        self.wire.write_frame(encode_frame(event, data, frame_id))
        self.cursor = max(self.cursor, frame_id)
        FRAMES_SENT.labels(event).inc()

    def _stalled(self) -> None:
        self.too_slow("its frames have waited too long to be taken")

    def too_slow(self, why: str) -> None:
        if not self.closed:
            SLOW_CLOSED.inc()
            log.warning("closing %s's socket: %s", self.principal.user_id, why)
            self.close(CLOSE_SLOW_CONSUMER, SLOW_REASON)

    def close(self, code: int, reason: str) -> None:
        """Close after what is already written (the client may ``resume`` for the rest)."""
        self.closed = True
        self._held.clear()
        self.wire.close_now(code, reason, self._close_timeout)

    def end_replay(self) -> None:
        self.replaying = False
        held, self._held = sorted(self._held), []
        for frame_id, frame in held:
            self.send_encoded(frame, frame_id)

    @property
    def queued_bytes(self) -> int:
        return 0 if self.wire.closing else self.wire.transport.get_write_buffer_size()


def encode_frame(event: str, data: dict[str, Any], frame_id: int | None) -> bytes:
    """The WebSocket frame of ``{"event", "data", "id"}``, ready for any socket's transport."""
    frame: dict[str, Any] = {"event": event, "data": data}
    if frame_id is not None:
        frame["id"] = frame_id
    return encode_text_frame(json.dumps(frame, default=str))


class Hub:
    def __init__(self) -> None:
        self._by_user: dict[str, set[Connection]] = defaultdict(set)
        self._floor: int | None = None  # the live tail when sockets join (see live.py)
        # Summed when /metrics is read, not on every frame.
        SEND_QUEUE.set_function(lambda: sum(c.queued_bytes for c in self.connections()))

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
        # Delivery never awaits, so the sockets cannot change while it runs: no copies.
        targets: Iterable[Connection] = (
            self._by_user.get(user_id, ())
            if user_id
            else (
                c
                for conns in self._by_user.values()
                for c in conns
                if not roles.isdisjoint(c.principal.roles)
            )
        )
        event, frame_id = notification["event"], notification["id"]
        with tracing.span(f"{event} deliver", SpanKind.INTERNAL, notification.get("traceparent")):
            return self._deliver(notification, targets, event, frame_id)

    def _deliver(
        self,
        notification: dict[str, Any],
        targets: Iterable[Connection],
        event: str,
        frame_id: int,
    ) -> int:
        # Encoded once per distinct set of roles, not once per socket: a broadcast to every
        # member of staff is the common case.
        encoded: dict[frozenset[str], bytes | None] = {}
        delivered = 0
        for conn in targets:
            roles = conn.principal.roles
            if roles not in encoded:
                visible = live_frame_for(event, notification["data"], roles)
                encoded[roles] = None if visible is None else encode_frame(event, visible, frame_id)
            frame = encoded[roles]
            if frame is not None and conn.send_encoded(frame, frame_id):
                delivered += 1
        if delivered:
            FRAMES_SENT.labels(event).inc(delivered)
            written_at = notification.get("writtenAt")
            if isinstance(written_at, str):
                WRITE_TO_FRAME.observe(
                    (
                        dt.datetime.now(dt.UTC) - dt.datetime.fromisoformat(written_at)
                    ).total_seconds()
                )
        return delivered
