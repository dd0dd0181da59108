"""One change of one stored record, done the same way in every service.

``edit()`` loads the record locked for the transaction and keeps its image as it was read; the
use case checks the version the client read (``check_version``) and its own rules, changes the
record, then ``save()`` flushes it, publishes its event and audits before and after, all in the
caller's unit of work (the caller commits).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from pydantic import BaseModel

from kliniki import problems
from kliniki.db import load
from kliniki.uow import UnitOfWork


class StoredRecord(Protocol):
    id: Any
    version: int


Record = TypeVar("Record", bound=StoredRecord)
Out = TypeVar("Out", bound=BaseModel)


@dataclass
class Edit(Generic[Record, Out]):
    uow: UnitOfWork
    record: Record
    before: Out  # the record as it was read (the audit's before, a 409's current record)
    to_out: Callable[[Record], Out]
    resource: str  # the audit log's name for it: PRESCRIPTION, VISIT, ...

    @property
    def current(self) -> dict[str, Any]:
        """The record as read, as the API answers it: what a refusal shows the client."""
        return self.before.model_dump(mode="json", by_alias=True)

    def check_version(self, expected: int | None, record: str | None = None) -> None:
        """Refuse (409, with the current record) a change based on another version."""
        problems.check_version(expected, self.record.version, self.current, record)

    async def save(
        self,
        action: str,
        *,
        event: str | None = None,
        data: Callable[[Out], Any] | None = None,
        subject: str | None = None,
        visit_id: str | None = None,
        details: str | None = None,
    ) -> Out:
        """Flush the change, publish ``event`` with ``data(after)`` about ``subject`` (the
        patient) and ``visit_id`` (by default the record's ``patient_id`` and ``visit_id``),
        audit ``action``; the record as it now is."""
        await self.uow.session.flush()
        after = self.to_out(self.record)
        if event is not None:
            assert data is not None, "an event needs its data"
            await self.uow.publish(
                event,
                data(after),
                subject=subject or getattr(self.record, "patient_id", None),
                visit_id=visit_id or getattr(self.record, "visit_id", None),
            )
        await self.uow.audit(
            action, self.resource, self.record.id, before=self.before, after=after, details=details
        )
        return after


async def edit(
    uow: UnitOfWork,
    model: type[Record],
    record_id: str,
    noun: str,
    to_out: Callable[[Record], Out],
    resource: str,
) -> Edit[Record, Out]:
    """``model`` ``record_id`` locked for this transaction (404 naming the ``noun`` if none)."""
    record = await load(uow.session, model, record_id, noun, for_update=True)
    return editing(uow, record, to_out, resource)


def editing(
    uow: UnitOfWork, record: Record, to_out: Callable[[Record], Out], resource: str
) -> Edit[Record, Out]:
    """An edit of ``record``, which the caller found by another key and locked."""
    return Edit(uow, record, to_out(record), to_out, resource)
