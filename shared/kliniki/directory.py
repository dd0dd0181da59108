"""The staff directory every service keeps from identity's ``staff.*`` events.

A valid signature is not enough: a token is accepted only for a ``sub`` that this service knows
as an active member of staff. Each service keeps its own copy of the directory (table
``staff_directory``, event-carried state transfer from ``identity.events``), so a leaver is
refused everywhere as soon as ``staff.deactivated`` arrives, and a nurse created at 10:00 can
go on duty at 10:01, with no restart. In development an empty directory is seeded from the
staff file, like identity's accounts.

Departments hook their duty rosters onto the same events (``StaffHook``), in the transaction
that updates the directory.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Select, Table, func, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from kliniki.consumer import Subscription
from kliniki.contracts.identity import STAFF_EVENTS
from kliniki.events import CloudEvent
from kliniki.settings import ServiceSettings
from kliniki.staff import load_staff
from kliniki.uow import UnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StaffMember:
    user_id: str
    name: str
    roles: frozenset[str]
    active: bool
    version: int

    @classmethod
    def from_event(cls, data: dict[str, Any]) -> StaffMember:
        return cls(
            user_id=str(data["userId"]),
            name=str(data["name"]),
            roles=frozenset(data.get("roles") or []),
            active=bool(data["active"]),
            version=int(data["version"]),
        )


# (unit of work, the member as they are now, as they were before or None if new)
StaffHook = Callable[[UnitOfWork, StaffMember, StaffMember | None], Awaitable[None]]


class Directory(Protocol):
    async def is_active(self, user_id: str) -> bool: ...


class StaffDirectory:
    """This service's copy of the staff directory.

    Who is active is held in memory by every replica (a hospital's staff is a few hundred
    rows): checking a token costs no database round trip, and a database outage refuses
    nobody who was active. Every ``RELOAD_SECONDS`` a replica asks the table for its
    fingerprint (one row of aggregates) and reads the table again only when that changed,
    i.e. when another replica's consumer applied a staff event (its own applies are in
    memory at once)."""

    RELOAD_SECONDS = 1.0

    def __init__(
        self,
        table: Table,
        sessionmaker: async_sessionmaker[AsyncSession],
        settings: ServiceSettings,
    ) -> None:
        self.table = table
        self.sessionmaker = sessionmaker
        self.settings = settings
        # user id -> (identity's version, active). Versions only grow, so a reload that read
        # the table just before this replica's own apply committed cannot undo that apply.
        self._known: dict[str, tuple[int, bool]] = {}
        self._loaded_fingerprint: tuple[Any, ...] | None = None

    async def is_active(self, user_id: str) -> bool:
        return self._known.get(user_id, (0, False))[1]

    def _remember(self, user_id: str, version: int, active: bool) -> None:
        if version >= self._known.get(user_id, (-1, False))[0]:
            self._known[user_id] = (version, active)

    def _fingerprint(self) -> Select[Any]:
        """Changes whenever a member is added or removed (the count), an event is applied
        (identity's versions only grow, so their sum does), or someone flips ``active`` or
        touches a row by hand (the active count, the latest ``updated_at``)."""
        t = self.table
        return select(
            func.count(),
            func.count().filter(t.c.active),
            func.coalesce(func.sum(t.c.version), 0),
            func.max(t.c.updated_at),
        )

    async def load(self) -> None:
        async with self.sessionmaker() as session:
            # First the fingerprint, then the rows: rows newer than their fingerprint only
            # cause one more reload next time, never a missed change.
            fingerprint = tuple((await session.execute(self._fingerprint())).one())
            t = self.table
            rows = await session.execute(select(t.c.user_id, t.c.version, t.c.active))
            for user_id, version, active in rows.all():
                self._remember(user_id, version, active)
            self._loaded_fingerprint = fingerprint

    async def reload_if_changed(self) -> bool:
        """Read the table again if its fingerprint moved since the last load; True if so."""
        async with self.sessionmaker() as session:
            fingerprint = tuple((await session.execute(self._fingerprint())).one())
        if fingerprint == self._loaded_fingerprint:
            return False
        await self.load()
        return True

    async def run(self) -> None:
        """Pick up what another replica's consumer wrote."""
        while True:
            await asyncio.sleep(self.RELOAD_SECONDS)
            try:
                await self.reload_if_changed()
            except Exception as exc:  # the database is away: what we last knew will do
                log.warning("could not reload the staff directory: %s", exc)

    async def get(self, session: AsyncSession, user_id: str) -> StaffMember | None:
        row = (
            await session.execute(select(self.table).where(self.table.c.user_id == user_id))
        ).first()
        return _member(row) if row else None

    async def with_role(self, session: AsyncSession, role: str) -> list[StaffMember]:
        rows = await session.execute(
            select(self.table).where(self.table.c.roles.any(role), self.table.c.active)
        )
        return [_member(r) for r in rows.all()]

    async def seed(self) -> None:
        """Development: an empty directory starts as the staff file (identity's seed too)."""
        if self.settings.env != "development":
            return
        async with self.sessionmaker() as session, session.begin():
            if await session.scalar(select(func.count()).select_from(self.table)):
                return
            members = load_staff(self.settings.staff_file).staff
            if members:
                await session.execute(
                    pg_insert(self.table)
                    .values(
                        [
                            {
                                "user_id": m.id,
                                "name": m.name,
                                "roles": m.roles,
                                "active": True,
                                "version": 0,
                            }
                            for m in members
                        ]
                    )
                    .on_conflict_do_nothing()
                )

    async def apply(self, session: AsyncSession, member: StaffMember) -> StaffMember | None:
        """Upsert a member from an event; what was there before (None: new). Stale events
        (an older version than the one kept) change nothing and return the member as kept."""
        before = await self.get(session, member.user_id)
        if before is not None and before.version > member.version:
            return before
        values = {
            "user_id": member.user_id,
            "name": member.name,
            "roles": sorted(member.roles),
            "active": member.active,
            "version": member.version,
            "updated_at": func.now(),
        }
        statement = pg_insert(self.table).values(**values)
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[self.table.c.user_id],
                set_={k: statement.excluded[k] for k in values if k != "user_id"},
            )
        )
        self._remember(member.user_id, member.version, member.active)  # known here at once
        return before


def staff_subscriptions(
    directory: StaffDirectory, hooks: Sequence[StaffHook] = ()
) -> list[Subscription]:
    """Keep the directory (and whatever hooks onto it) in step with identity."""

    async def on_staff_event(uow: UnitOfWork, event: CloudEvent) -> None:
        member = StaffMember.from_event(event.data)
        before = await directory.apply(uow.session, member)
        if before is not None and before.version > member.version:
            return  # stale
        for hook in hooks:
            await hook(uow, member, before)

    return [Subscription("identity", key, on_staff_event) for key in STAFF_EVENTS]


def _member(row: Any) -> StaffMember:
    return StaffMember(
        user_id=row.user_id,
        name=row.name,
        roles=frozenset(row.roles),
        active=row.active,
        version=row.version,
    )
