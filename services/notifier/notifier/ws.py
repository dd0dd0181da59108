"""The WebSocket endpoint ``/ws`` (a contract: services/notifier/README.md).

Connect with the token in the ``Sec-WebSocket-Protocol`` header (what a browser can send:
``new WebSocket(url, ["kliniki.bearer", token])``; the server answers ``kliniki.bearer``), an
``Authorization: Bearer`` header, or ``?token=`` (kept for other clients; every log line has it
redacted). The socket is closed with 4401 when its token expires, unless the client sent a
fresh one first: ``{"event": "authenticate", "data": {"token": ...}}`` (answered
``authenticated`` with the new expiry). Frames are
``{"event": NAME, "data": {...}}``; stored notifications also carry ``id``, the cursor to
``resume`` from after a reconnect. ``?after=<id>`` on the URL is the same as a ``resume`` sent
first, without the instant in which live frames could overtake the replay.

Close codes: 4401 bad or expired token (or a member of staff no longer active), 4408 too slow
reading (reconnect and resume), 1013 the notifier cannot reach its database yet (reconnect later).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from starlette.types import Receive, Scope, Send

from kliniki.access import (
    PRESENCE_ENTITY_ROLES,
    live_frame_for,
    may_see_presence,
    may_see_typing,
)
from kliniki.auth import InvalidToken, Principal, bearer_token
from kliniki.kernel import Kernel
from notifier import feed
from notifier.hub import Connection, Hub
from notifier.live import NotificationTail
from notifier.presence import MODES, PresenceBoard
from notifier.settings import NotifierSettings
from notifier.wire import PROTOCOL, WIRE, WireProtocol

log = logging.getLogger(__name__)

CLOSE_UNAUTHORIZED = 4401
CLOSE_SERVER_ERROR = 1011
CLOSE_TRY_AGAIN_LATER = 1013
MAX_CLIENT_FRAME_BYTES = 16_384
MAX_ID_LENGTH = 200
READY_TIMEOUT_SECONDS = 10.0


SocketEndpoint = Callable[[WebSocket], Awaitable[None]]


def socket_endpoint(
    hub: Hub, board: PresenceBoard, tail: NotificationTail, settings: NotifierSettings
) -> SocketEndpoint:
    """What serves one socket, from its handshake to its close."""

    async def websocket_endpoint(websocket: WebSocket) -> None:
        kernel: Kernel = websocket.app.state.kernel
        handshake = read_handshake(websocket.scope)
        token = handshake.token
        await websocket.accept(subprotocol=BEARER_SUBPROTOCOL if handshake.subprotocol else None)
        forget_handshake(websocket.scope)
        wire = websocket.scope.get("extensions", {}).get(WIRE)
        if not isinstance(wire, WireProtocol):
            log.error(
                "the notifier's sockets need uvicorn's --ws %s (see notifier/wire.py)", PROTOCOL
            )
            await websocket.close(code=CLOSE_SERVER_ERROR, reason="the notifier is misconfigured")
            return
        try:
            if not token:
                raise InvalidToken(
                    "no token: send it as the Sec-WebSocket-Protocol "
                    f"'{BEARER_SUBPROTOCOL}, <token>', an Authorization header or ?token="
                )
            principal = await authenticate(kernel, token)
        except InvalidToken as exc:
            await websocket.close(code=CLOSE_UNAUTHORIZED, reason=f"unauthorized: {exc}"[:120])
            return
        after = handshake.after
        try:  # live delivery needs the tail position (one database read at start-up)
            await asyncio.wait_for(tail.ready.wait(), READY_TIMEOUT_SECONDS)
        except TimeoutError:
            await websocket.close(CLOSE_TRY_AGAIN_LATER, "the notifier is starting; reconnect")
            return
        # No task of its own per socket: the hub writes to it, timers close it, and this
        # request's task reads it until the client goes or it is closed.
        connection = Connection(
            wire,
            principal,
            send_buffer_frames=settings.ws_send_buffer_frames,
            stalled_send_seconds=settings.ws_stalled_send_seconds,
            close_timeout_seconds=settings.ws_close_timeout_seconds,
        )
        hub.add(connection, tail.position)
        session = ClientSession(kernel, hub, board, websocket, connection, settings)
        session.watch_expiry()
        try:
            await session.read_forever(resume_after=after)
        finally:
            session.stop_watching_expiry()
            board.drop(connection)
            hub.remove(connection)

    return websocket_endpoint


def websocket_router(endpoint: SocketEndpoint) -> APIRouter:
    """``/ws`` as a route, for the route listings (OpenAPI, the access walk); requests to it
    are served by ``SocketsFirst`` before FastAPI's stack sees them."""
    router = APIRouter()
    router.add_api_websocket_route("/ws", endpoint)
    return router


class SocketsFirst(FastAPI):
    """The notifier's app: a socket to ``/ws`` goes straight to its endpoint.

    A socket lives for hours and thousands are open at once: through FastAPI's stack each would
    keep a dozen coroutine frames (middlewares, router, exception wrappers, exit stacks) alive
    for its whole life, about a third of its memory. Nothing in that stack acts on a socket
    (the edge middleware passes sockets through; a span of hours traces nothing useful).
    """

    socket_endpoint: SocketEndpoint | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == "/ws" and self.socket_endpoint:
            scope["app"] = self  # as Starlette does: the endpoint finds the kernel through it
            await self.socket_endpoint(WebSocket(scope, receive=receive, send=send))
            return
        await super().__call__(scope, receive, send)


BEARER_SUBPROTOCOL = "kliniki.bearer"


@dataclass(frozen=True, slots=True)
class Handshake:
    token: str | None
    subprotocol: bool  # the token came as ``kliniki.bearer, <token>``: the answer names it
    after: int | None  # ``?after=``: resume from there


def read_handshake(scope: Scope) -> Handshake:
    """The token and resume point of a socket's handshake."""
    headers = {
        name: value.decode("latin-1")
        for name, value in scope["headers"]
        if name in (b"sec-websocket-protocol", b"authorization")
    }
    query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
    protocol_token = _subprotocol_token(headers.get(b"sec-websocket-protocol"))
    token = protocol_token or bearer_token(headers.get(b"authorization")) or query.get("token")
    return Handshake(token, protocol_token is not None, _non_negative_int(query.get("after")))


def forget_handshake(scope: Scope) -> None:
    """Once accepted (and its line logged, redacted), a socket lives for hours: the headers and
    query string of its handshake (a token among them) need not stay in memory with it."""
    scope["headers"], scope["query_string"] = [], b""


def _subprotocol_token(header: str | None) -> str | None:
    """``kliniki.bearer, <token>`` in Sec-WebSocket-Protocol: the token, else None."""
    if not header:
        return None
    parts = [p.strip() for p in header.split(",")]
    if len(parts) == 2 and parts[0] == BEARER_SUBPROTOCOL and parts[1]:
        return parts[1]
    return None


async def authenticate(kernel: Kernel, token: str) -> Principal:
    """The same checks as every HTTP route (kliniki.web): signature, claims, an active member
    of staff, no pending one-time password."""
    principal = await kernel.verifier.verify_async(token)
    if kernel.directory is not None and not await kernel.directory.is_active(principal.user_id):
        raise InvalidToken(f"{principal.user_id!r} is not an active member of staff")
    if principal.password_change_required:
        raise InvalidToken("change your one-time password at identity first")
    return principal


def _non_negative_int(raw: str | None) -> int | None:
    if raw is None or not raw.isdigit():
        return None
    return int(raw)


# Echoed to other staff in presence and typing frames: ids and field names, never markup.
_ENTITY_TYPE = re.compile(r"^[a-z_]{1,40}$")
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]{0,63}$")


def _identifier(data: dict[str, Any], name: str, kind: str | None = None) -> str | None:
    """``data[name]`` if it has the shape of its kind: ``<kind>_<letters/digits>`` for an id
    (a patient id looks like ``patient_3f9c...``), a plain name for a type or a field."""
    value = data.get(name)
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_LENGTH:
        return None
    if kind is not None:
        prefix, _, rest = value.rpartition("_")
        return value if prefix == kind and rest.isalnum() and rest.isascii() else None
    pattern = _FIELD if name == "field" else _ENTITY_TYPE
    return value if pattern.fullmatch(value) else None


class ClientSession:
    """Reads one client's frames and answers them."""

    __slots__ = ("_expiry", "board", "connection", "hub", "kernel", "settings", "websocket")

    def __init__(
        self,
        kernel: Kernel,
        hub: Hub,
        board: PresenceBoard,
        websocket: WebSocket,
        connection: Connection,
        settings: NotifierSettings,
    ) -> None:
        self.kernel = kernel
        self.hub = hub
        self.board = board
        self.websocket = websocket
        self.connection = connection
        self.settings = settings
        self._expiry: asyncio.TimerHandle | None = None

    @property
    def principal(self) -> Principal:
        return self.connection.principal

    def watch_expiry(self) -> None:
        """Close the socket with 4401 when its token expires (a fresh one moves the deadline)."""
        self.stop_watching_expiry()
        expires_at = self.principal.expires_at
        if expires_at is None:  # never (a token without exp is refused anyway)
            return
        remaining = (expires_at - dt.datetime.now(dt.UTC)).total_seconds()
        self._expiry = asyncio.get_running_loop().call_later(max(0.0, remaining), self._expired)

    def stop_watching_expiry(self) -> None:
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None

    def _expired(self) -> None:
        self.connection.close(CLOSE_UNAUTHORIZED, "token expired: reconnect with a fresh one")

    async def reauthenticate(self, data: dict[str, Any]) -> None:
        token = data.get("token")
        if not isinstance(token, str) or not token:
            self.error("authenticate needs {token}", "authenticate")
            return
        try:
            principal = await authenticate(self.kernel, token)
        except InvalidToken as exc:
            self.error(f"that token was refused: {exc}", "authenticate")
            return
        if principal.user_id != self.principal.user_id:
            self.error("a socket stays with the user who opened it", "authenticate")
            return
        self.connection.principal = principal
        self.watch_expiry()
        expires = principal.expires_at.isoformat() if principal.expires_at else None
        self.connection.send_frame("authenticated", {"expiresAt": expires})

    async def read_forever(self, resume_after: int | None = None) -> None:
        if resume_after is not None:
            await self.resume(resume_after)
        while not self.connection.closed:  # closed by the server: what it sent is not read
            try:
                text = await self.websocket.receive_text()
            except (WebSocketDisconnect, RuntimeError, KeyError):
                return
            # One frame per turn of the event loop: frames already received do not make the
            # read wait, so a client that floods would otherwise hold up every other socket.
            await asyncio.sleep(0)
            self.board.heard(self.connection)
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
        self.connection.send_frame(
            "error", {"message": message, "inReplyTo": event[:64] if event else None}
        )

    async def handle(self, event: str, data: dict[str, Any]) -> None:
        if event == "ping":
            self.connection.send_frame("pong", {})
        elif event == "authenticate":
            await self.reauthenticate(data)
        elif event == "resume":
            after = data.get("after", 0)
            if not isinstance(after, int) or isinstance(after, bool) or after < 0:
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
        elif event in ("entity_edit_start", "entity_edit_end"):
            self.presence(event, data)
        elif event in ("typing_start", "typing_stop"):
            self.typing(event, data)
        else:
            self.error(f"unknown event {event[:64]!r}", event)

    def presence(self, event: str, data: dict[str, Any]) -> None:
        entity_type = _identifier(data, "entityType")
        entity_id = _identifier(data, "entityId", entity_type) if entity_type else None
        if entity_type is None or entity_id is None:
            self.error(
                f"{event} needs {{entityType, entityId}}, the id of that type "
                f"(e.g. {entity_type or 'patient'}_3f9c...)",
                event,
            )
            return
        if entity_type not in PRESENCE_ENTITY_ROLES:
            known = ", ".join(sorted(PRESENCE_ENTITY_ROLES))
            self.error(f"unknown entityType {entity_type!r}; one of: {known}", event)
            return
        if not may_see_presence(self.principal.roles, entity_type):
            self.error(f"your roles may not open a {entity_type}", event)
            return
        if event == "entity_edit_end":
            self.board.leave(self.connection, entity_type, entity_id)
            return
        mode = data.get("mode", "viewing")
        if mode not in MODES:
            self.error(f"mode is one of {', '.join(MODES)}", event)
            return
        rooms = self.board.rooms_of(self.connection)
        if (entity_type, entity_id) not in rooms and len(rooms) >= (
            self.settings.max_rooms_per_socket
        ):
            self.error(
                f"a socket may have {self.settings.max_rooms_per_socket} entities open; "
                "send entity_edit_end for one first",
                event,
            )
            return
        self.board.join(self.connection, entity_type, entity_id, mode)

    def typing(self, event: str, data: dict[str, Any]) -> None:
        patient_id, field = _identifier(data, "patientId", "patient"), _identifier(data, "field")
        if patient_id is None or field is None:
            self.error(f"{event} needs {{patientId, field}}: a patient id and a field name", event)
            return
        if not may_see_typing(self.principal.roles, field):
            self.error(f"your roles may not edit the field {field!r} of a patient", event)
            return
        self.board.typing(self.connection, patient_id, field, event == "typing_start")

    async def resume(self, after: int) -> None:
        """Send what the user missed after ``after``, in order and once, then go on live.

        The socket has sent ``(sent_from, cursor]`` already (live); the replay is what lies
        after ``after`` below that range and above it. Live frames that arrive meanwhile wait.
        """
        conn = self.connection
        conn.replaying = True
        try:
            sent_from = conn.sent_from if conn.sent_from is not None else conn.cursor
            if after < sent_from:
                await self._replay(after, until=sent_from)
            await self._replay(max(after, conn.cursor), until=None)
            # Everything up to ``after`` the client has by its own word (perhaps from another
            # replica whose live delivery was ahead of this one's).
            conn.sent_from = min(sent_from, after)
            conn.cursor = max(conn.cursor, after)
        finally:
            conn.end_replay()
        conn.send_frame("resumed", {"cursor": conn.cursor})

    async def _replay(self, after: int, until: int | None) -> None:
        conn = self.connection
        cursor = after
        while not conn.closed:
            async with self.kernel.sessionmaker() as session:
                batch = await feed.missed_since(session, self.principal, cursor, until=until)
            for notification in batch:
                cursor = notification.id
                data = live_frame_for(notification.event, notification.data, self.principal.roles)
                if data is not None:
                    await conn.send_replayed(notification.event, data, notification.id)
            if len(batch) < feed.REPLAY_BATCH:
                return
