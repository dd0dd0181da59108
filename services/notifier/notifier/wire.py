"""How the notifier's sockets are served: uvicorn's websockets-sansio protocol, plus a way to
write a frame whose bytes were made once for a whole audience.

A broadcast reaches thousands of sockets. Through ASGI each socket would cost an awaited
``send`` (and in the notifier a queue and a writer task), its own framing of the same text and,
with permessage-deflate, a compressor per socket (tens of KiB each) and a compression per frame
per socket. Instead, as ``websockets.broadcast`` does, the hub makes a frame's bytes once
(``encode_text_frame``: a server's frames are unmasked, and without compression every socket
gets the same bytes) and hands them to each socket's transport (``WireProtocol.write_frame``).
Handshake, reading, pings and the closing handshake stay uvicorn's.

The ASGI app finds its connection in ``scope["extensions"][WIRE]``. Run uvicorn with
``--ws notifier.wire:WireProtocol`` (the image, ``make run`` and the test stack do).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

WIRE = "kliniki.wire"
PROTOCOL = "notifier.wire:WireProtocol"  # uvicorn's --ws for the notifier


def encode_text_frame(text: str) -> bytes:
    """``text`` as one whole WebSocket text frame from a server (unmasked, uncompressed)."""
    return Frame(Opcode.TEXT, text.encode()).serialize(mask=False)


class WireProtocol(WebSocketsSansIOProtocol):
    """One socket: uvicorn's protocol, without compression, with synchronous writes."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # No permessage-deflate: every socket of an audience gets the same bytes, and a
        # compressor per socket would cost more memory than the rest of the socket.
        self.conn = ServerProtocol(max_size=self.config.ws_max_size, logger=self.conn.logger)
        self._on_stalled: Callable[[], None] | None = None
        self._stalled_after = 0.0
        self._stall_timer: asyncio.TimerHandle | None = None

    def handle_connect(self, event: Request) -> None:
        super().handle_connect(event)
        if not self.close_sent:  # accepted: the app's task has been created but not yet run
            # ASGI's types want every extension a dict; this one carries the connection.
            extensions: dict[str, Any] = self.scope["extensions"]
            extensions[WIRE] = self

    async def send(self, message: Any) -> None:
        await super().send(message)
        if message["type"] == "websocket.accept":  # only the handshake needed them
            # websockets' parser keeps the handshake's Request for the socket's life (a local
            # of its generator): its headers and path, a few KiB with a token in them, need not.
            if self.request is not None:
                self.request.headers.clear()
                self.request.path = ""
            # uvicorn types them as always set; freeing them saves memory per socket.
            self.request = self.response = None  # type: ignore[assignment]

    @property
    def paused(self) -> bool:
        """The transport holds more than its high-water mark (64 KiB) that the client has not
        taken yet."""
        return not self.writable.is_set()

    @property
    def closing(self) -> bool:
        return self.close_sent or self.disconnected or self.transport.is_closing()

    def write_frame(self, frame: bytes) -> None:
        """Queue a whole frame (``encode_text_frame``) behind what is already queued."""
        if not self.closing:
            self.transport.write(frame)

    async def until_writable(self) -> None:
        await self.writable.wait()

    def close_now(self, code: int, reason: str, timeout: float) -> None:
        """Send a close frame behind what is queued; cut the connection if the client has not
        taken it within ``timeout`` (one that reads nothing never would). The app's reader
        gets ``websocket.disconnect``."""
        if self.closing:
            return
        self.queue.put_nowait({"type": "websocket.disconnect", "code": code, "reason": reason})
        self.conn.send_close(code, reason)
        self.transport.write(b"".join(self.conn.data_to_send()))
        self.close_sent = True
        if self.read_paused:  # to read the client's closing answer
            self.read_paused = False
            self.transport.resume_reading()
        self.close_timer = self.loop.call_later(timeout, self.transport.abort)

    def watch_stalls(self, seconds: float, on_stalled: Callable[[], None]) -> None:
        """Call ``on_stalled`` when the transport has stayed above its high-water mark for
        ``seconds``: the client has stopped reading."""
        self._stalled_after, self._on_stalled = seconds, on_stalled

    def pause_writing(self) -> None:
        super().pause_writing()
        if self._on_stalled is not None and self._stall_timer is None:
            self._stall_timer = self.loop.call_later(self._stalled_after, self._on_stalled)

    def resume_writing(self) -> None:
        super().resume_writing()
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        if self._stall_timer is not None:
            self._stall_timer.cancel()
            self._stall_timer = None
        self._on_stalled = None
