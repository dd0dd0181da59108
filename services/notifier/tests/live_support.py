"""What the notifier's tests share: replicas with short clocks, sockets that keep their presence
alive, a unique entity per test, and stored notifications made on demand."""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import Iterator
from typing import Any

from kliniki.access import Role
from kliniki.events import CloudEvent
from tests.support.live import StaffSocket
from tests.support.stack import ServiceProcess, Stack

# Short clocks, so the tests watch expiry in about a second instead of the defaults' several.
FAST_CLOCKS = {
    "KLINIKI_PRESENCE_HEARTBEAT_SECONDS": "0.3",
    "KLINIKI_PRESENCE_REPLICA_EXPIRY_SECONDS": "1.5",
    "KLINIKI_PRESENCE_CLIENT_TIMEOUT_SECONDS": "1.5",
    "KLINIKI_TYPING_EXPIRY_SECONDS": "1.0",
    "KLINIKI_LIVE_POLL_SECONDS": "0.5",
    "KLINIKI_LOG_LEVEL": "WARNING",
}
# Generous: a loaded CI machine may be slow, and nothing here measures time.
EXPIRY_WAIT = 15.0
ALL_ROLES = sorted(r.value for r in Role)


@contextlib.contextmanager
def replica(stack: Stack, name: str, **env: str) -> Iterator[ServiceProcess]:
    """One more notifier process (same database and broker names as the run's notifier)."""
    proc = stack.start("notifier", name=name, **{**FAST_CLOCKS, **env})
    try:
        stack.wait_ready(proc)
        yield proc
    finally:
        proc.stop()


def patient_id() -> str:
    """A patient nobody else's test has open."""
    return f"patient_{uuid.uuid4().hex[:12]}"


class LiveSocket(StaffSocket):
    """A staff socket that pings like the JS client does, so its presence stays alive."""

    def __init__(self, url: str, user: str, ping_every: float = 0.3) -> None:
        super().__init__(url, user)
        self.ping_every = ping_every
        self._pinger: asyncio.Task[None] | None = None
        self.pinging = True

    async def connect(self) -> None:
        await super().connect()
        self._pinger = asyncio.create_task(self._ping_forever())

    async def _ping_forever(self) -> None:
        with contextlib.suppress(Exception):
            while True:
                await asyncio.sleep(self.ping_every)
                if self.pinging:
                    await self.send("ping")

    async def close(self) -> None:
        if self._pinger is not None:
            self._pinger.cancel()
        await super().close()

    def drop_without_goodbye(self) -> None:
        """Cut the TCP connection: no entity_edit_end, no close frame (a closed laptop lid)."""
        assert self.ws is not None
        if self._pinger is not None:
            self._pinger.cancel()
        self.ws.transport.abort()

    async def open_entity(
        self, entity_type: str, entity_id: str, mode: str = "viewing"
    ) -> dict[str, Any]:
        """entity_edit_start; the presence_state it gets back."""
        before = len(self.events("presence_state"))
        await self.send(
            "entity_edit_start", {"entityType": entity_type, "entityId": entity_id, "mode": mode}
        )

        def fresh(data: dict[str, Any]) -> bool:
            return data["entityId"] == entity_id and len(self.events("presence_state")) > before

        frame = await self.wait_for("presence_state", fresh)
        return frame["data"]

    def diffs(self, entity_id: str) -> list[dict[str, Any]]:
        return [
            f["data"] for f in self.events("presence_diff") if f["data"]["entityId"] == entity_id
        ]

    async def wait_join(self, entity_id: str, user: str, timeout: float = 10.0) -> dict[str, Any]:
        frame = await self.wait_for(
            "presence_diff",
            lambda d: d["entityId"] == entity_id and user in [m["userId"] for m in d["joins"]],
            timeout,
        )
        return frame["data"]

    async def wait_leave(
        self, entity_id: str, user: str, timeout: float = EXPIRY_WAIT
    ) -> dict[str, Any]:
        frame = await self.wait_for(
            "presence_diff",
            lambda d: d["entityId"] == entity_id and user in [m["userId"] for m in d["leaves"]],
            timeout,
        )
        return frame["data"]

    async def round_trip(self) -> None:
        """Send a ping and wait for its pong: everything sent before it has been handled."""
        count = len(self.events("pong"))
        await self.send("ping")
        async with asyncio.timeout(10), self._arrived:
            await self._arrived.wait_for(lambda: len(self.events("pong")) > count or self.closed)


def user_ids(members: list[dict[str, Any]]) -> list[str]:
    return [m["userId"] for m in members]


async def store_notifications(
    stack: Stack, rows: list[tuple[str, dict[str, Any], str | None, list[str] | None]]
) -> list[int]:
    """Store notifications as the notifier's handlers do ((event, data, user, roles) each),
    in one transaction; the replicas' live delivery reads them from the database."""
    db = await stack.connect_db("notifier")
    try:
        async with db.transaction():
            ids = []
            for event, data, user, roles in rows:
                ids.append(
                    await db.fetchval(
                        "insert into notifications (event, data, recipient_user_id,"
                        " recipient_roles, patient_id, source_event_id)"
                        " values ($1, $2::jsonb, $3, $4, $5, $6) returning id",
                        event,
                        json.dumps(data),
                        user,
                        roles,
                        data.get("patientId"),
                        f"test-{uuid.uuid4()}",
                    )
                )
    finally:
        await db.close()
    # The wake-up the handlers' outbox would publish (replicas also poll, more slowly).
    wake_up = CloudEvent(
        source="/services/notifier",
        type="notification.created.v1",
        data={
            "notifications": [
                {"id": i, "event": e, "data": d, "recipientUserId": u, "recipientRoles": r}
                for i, (e, d, u, r) in zip(ids, rows, strict=True)
            ]
        },
    )
    await stack.publish_raw("notifier", "notification.created", wake_up.to_json_bytes())
    return ids


async def last_notification_id(stack: Stack) -> int:
    db = await stack.connect_db("notifier")
    try:
        return await db.fetchval("select coalesce(max(id), 0) from notifications")
    finally:
        await db.close()
