"""A TCP proxy that adds a fixed delay each way: a database in another zone, for benchmarks.

``python bench/latency_proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT DELAY_MS``

Every chunk read from one side is written to the other ``DELAY_MS`` later, in order, without
holding back the chunks behind it: the delay is latency, not a bandwidth limit.

Built on asyncio protocols and one timer per direction (uvloop when installed): it shares the
benchmark's cores with the system under test, so it should cost as little CPU as it can (the
stream-and-queue version cost about a fifth of a core at 150 events/s).
"""

from __future__ import annotations

import asyncio
import collections
import sys
from typing import cast

CONNECTING: set[asyncio.Task[None]] = set()  # held until done (the loop keeps weak references)


class _Direction:
    """Chunks on their way to ``transport``, each written once its time has come."""

    def __init__(self, loop: asyncio.AbstractEventLoop, delay: float) -> None:
        self.loop, self.delay = loop, delay
        self.transport: asyncio.Transport | None = None
        self.pending: collections.deque[tuple[float, bytes]] = collections.deque()
        self.timer: asyncio.TimerHandle | None = None
        self.closing = False

    def send(self, data: bytes) -> None:
        self.pending.append((self.loop.time() + self.delay, data))
        if self.timer is None:
            self.timer = self.loop.call_at(self.pending[0][0], self._flush)

    def close(self) -> None:
        """Close the other side once what was read before has gone."""
        self.closing = True
        if self.timer is None:
            self._flush()

    def _flush(self) -> None:
        self.timer = None
        now = self.loop.time()
        while self.pending and self.pending[0][0] <= now:
            data = self.pending.popleft()[1]
            if self.transport is not None and not self.transport.is_closing():
                self.transport.write(data)
        if self.pending:
            self.timer = self.loop.call_at(self.pending[0][0], self._flush)
        elif self.closing and self.transport is not None:
            self.transport.close()


class _Side(asyncio.Protocol):
    """One end of a proxied connection: what it reads goes the other way, delayed."""

    def __init__(self, outgoing: _Direction, incoming: _Direction) -> None:
        self.outgoing, self.incoming = outgoing, incoming

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.incoming.transport = cast(asyncio.Transport, transport)  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.outgoing.send(data)

    def eof_received(self) -> bool:
        self.outgoing.close()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.outgoing.close()


def serve(upstream: tuple[str, int], delay: float) -> type[asyncio.Protocol]:
    loop = asyncio.get_running_loop()

    class Client(asyncio.Protocol):
        def connection_made(self, base: asyncio.BaseTransport) -> None:
            transport = cast(asyncio.Transport, base)  # uvloop's is no subclass
            to_upstream, to_client = _Direction(loop, delay), _Direction(loop, delay)
            to_client.transport = transport
            self.side = _Side(to_upstream, to_client)
            transport.pause_reading()  # until the upstream connection is there
            connecting = loop.create_task(self._connect(transport, to_upstream, to_client))
            CONNECTING.add(connecting)
            connecting.add_done_callback(CONNECTING.discard)

        async def _connect(
            self, transport: asyncio.Transport, to_upstream: _Direction, to_client: _Direction
        ) -> None:
            try:
                await loop.create_connection(lambda: _Side(to_client, to_upstream), *upstream)
            except OSError:
                transport.close()
                return
            transport.resume_reading()

        def data_received(self, data: bytes) -> None:
            self.side.data_received(data)

        def eof_received(self) -> bool:
            return self.side.eof_received()

        def connection_lost(self, exc: Exception | None) -> None:
            self.side.connection_lost(exc)

    return Client


async def main(listen_port: int, host: str, port: int, delay_ms: float) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        serve((host, port), delay_ms / 1000), "127.0.0.1", listen_port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, host, port, delay = sys.argv[1:5]
    serving = main(int(listen), host, int(port), float(delay))
    try:
        import uvloop
    except ImportError:
        asyncio.run(serving)
    else:
        uvloop.run(serving)
