"""Helpers for watching what staff see: a WebSocket client that records every frame."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import websockets

Frame = dict[str, Any]


class StaffSocket:
    """One staff member's live connection to the notifier, recording every frame it gets."""

    def __init__(self, url: str, user: str) -> None:
        self.url = url
        self.user = user
        self.frames: list[Frame] = []
        self.arrivals: list[float] = []  # perf_counter() when each frame arrived
        self._arrived = asyncio.Condition()
        self._reader: asyncio.Task[None] | None = None
        self.ws: websockets.ClientConnection | None = None
        self.close_code: int | None = None
        self.close_reason: str | None = None

    async def __aenter__(self) -> StaffSocket:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def connect(self) -> None:
        self.ws = await websockets.connect(self.url, max_size=2**22)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        assert self.ws is not None
        try:
            async for text in self.ws:
                frame = json.loads(text)
                async with self._arrived:
                    self.frames.append(frame)
                    self.arrivals.append(time.perf_counter())
                    self._arrived.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            self.close_code = self.ws.close_code
            self.close_reason = self.ws.close_reason
            async with self._arrived:
                self._arrived.notify_all()

    async def send(self, event: str, data: dict[str, Any] | None = None) -> None:
        assert self.ws is not None
        await self.ws.send(json.dumps({"event": event, "data": data or {}}))

    def arrival_of(self, frame: Frame) -> float:
        return self.arrivals[next(i for i, f in enumerate(self.frames) if f is frame)]

    def events(self, name: str) -> list[Frame]:
        return [f for f in self.frames if f["event"] == name]

    async def wait_for(
        self,
        event: str,
        where: Callable[[dict[str, Any]], bool] = lambda _: True,
        timeout: float = 10.0,
    ) -> Frame:
        """The first frame named ``event`` whose data satisfies ``where`` (waiting for it)."""

        def find() -> Frame | None:
            return next((f for f in self.frames if f["event"] == event and where(f["data"])), None)

        async with asyncio.timeout(timeout):
            async with self._arrived:
                await self._arrived.wait_for(lambda: find() is not None or self.closed)
        frame = find()
        if frame is None:
            raise AssertionError(f"{self.user}'s socket closed before {event}: {self.close_code}")
        return frame

    async def wait_closed(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout), self._arrived:
            await self._arrived.wait_for(lambda: self.closed)

    @property
    def closed(self) -> bool:
        return self._reader is not None and self._reader.done()

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
