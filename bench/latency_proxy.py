"""A TCP proxy that adds a fixed delay each way: a database in another zone, for benchmarks.

``python bench/latency_proxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT DELAY_MS``

Every chunk read from one side is written to the other ``DELAY_MS`` later, in order, without
holding back the chunks behind it: the delay is latency, not a bandwidth limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time


async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter, delay: float) -> None:
    pending: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

    async def deliver() -> None:
        while True:
            due, data = await pending.get()
            if not data:
                break
            if (wait := due - time.monotonic()) > 0:
                await asyncio.sleep(wait)
            dst.write(data)
            await dst.drain()

    delivering = asyncio.create_task(deliver())
    with contextlib.suppress(OSError):
        while data := await src.read(65536):
            pending.put_nowait((time.monotonic() + delay, data))
    pending.put_nowait((0.0, b""))  # the other side closes after what was read has gone
    with contextlib.suppress(OSError):
        await delivering
    dst.close()


def serve(upstream: tuple[str, int], delay: float):  # noqa: ANN201 (asyncio's callback type)
    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*upstream)
        except OSError:
            writer.close()
            return
        await asyncio.gather(
            pipe(reader, up_writer, delay), pipe(up_reader, writer, delay), return_exceptions=True
        )

    return connection


async def main(listen_port: int, host: str, port: int, delay_ms: float) -> None:
    server = await asyncio.start_server(
        serve((host, port), delay_ms / 1000), "127.0.0.1", listen_port
    )
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    listen, host, port, delay = sys.argv[1:5]
    asyncio.run(main(int(listen), host, int(port), float(delay)))
