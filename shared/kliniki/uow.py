"""The unit of work: one database transaction carrying a change, its events and its audit.

Routes and event handlers get a ``UnitOfWork``; domain code adds records to ``uow.session``,
calls ``uow.publish`` and ``uow.audit``, and the caller commits once. Nothing reaches the broker
unless the change committed, and no change commits without its events and audit record.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel
from pydantic_core import to_jsonable_python
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.audit import AuditRecord, append_records, chain_head, chain_of
from kliniki.db import KernelTables
from kliniki.events import CloudEvent, versioned_type
from kliniki.outbox import stage_events, wake_relay
from kliniki.problems import InvalidInput

log = logging.getLogger(__name__)


def to_json(value: Any) -> Any:
    """JSON-ready form of a pydantic model (camelCase) or plain data."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    return to_jsonable_python(value)


class UnitOfWork:
    def __init__(
        self,
        session: AsyncSession,
        tables: KernelTables,
        service: str,
        *,
        actor_id: str,
        request_id: str | None = None,
        correlation_id: str | None = None,
        traceparent: str | None = None,
    ) -> None:
        self.session = session
        self.tables = tables
        self.service = service
        self.actor_id = actor_id
        self.request_id = request_id
        self.correlation_id = correlation_id or request_id
        self.traceparent = traceparent
        # Events and audit records of this transaction, written when it commits.
        self.published: list[CloudEvent] = []
        self.audit_records: list[AuditRecord] = []
        # Run once the transaction committed (never if it rolls back): in-process follow-ups.
        self._after_commit: list[Callable[[], None]] = []

    def after_commit(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` right after this unit of work commits (not if it rolls back)."""
        self._after_commit.append(callback)

    async def publish(
        self,
        routing_key: str,
        data: BaseModel | dict[str, Any],
        *,
        subject: str | None,
        visit_id: str | None = None,
        version: int = 1,
    ) -> CloudEvent:
        """Stage an event on this service's exchange; it is written with the commit (the
        transaction's events in one statement) and leaves once the transaction committed."""
        event = CloudEvent(
            source=f"/services/{self.service}",
            type=versioned_type(routing_key, version),
            subject=subject,
            data=to_json(data),
            visitid=visit_id,
            actorid=self.actor_id,
            correlationid=self.correlation_id,
            traceparent=self.traceparent,
        )
        self.published.append(event)
        return event

    async def audit(
        self,
        action: str,
        resource: str,
        resource_id: str,
        *,
        before: Any = None,
        after: Any = None,
        details: str | None = None,
    ) -> None:
        """Record a change; written (hash-chained) when this unit of work commits."""
        self.audit_records.append(
            AuditRecord(
                actor_id=self.actor_id,
                action=action,
                resource=resource,
                resource_id=resource_id,
                before=to_json(before),
                after=to_json(after),
                details=details,
                request_id=self.request_id,
                occurred_at=dt.datetime.now(dt.UTC),
            )
        )

    async def audit_reads(
        self, resource: str, records: Any, *, id_field: str = "id", details: str | None = None
    ) -> None:
        """Record that the actor read these clinical records (action READ): who looked at
        which patient's record, and when. Only which record and whose, never its content."""
        for record in to_json(records if isinstance(records, list) else [records]):
            await self.audit(
                "READ",
                resource,
                str(record[id_field]),
                after={"patientId": record.get("patientId"), "visitId": record.get("visitId")},
                details=details,
            )

    async def commit(self) -> None:
        await self.session.flush()  # every row lock is taken before the audit chain's lock
        staged = bool(self.published)
        # The outbox statement also locks the audit chain's head and reads its last hash (one
        # round trip fewer), so the lock is held, as before, for the INSERT and the commit.
        chain = chain_of(self.audit_records) if self.audit_records else None
        head = await stage_events(
            self.session,
            self.tables,
            self.published,
            then=chain_head(self.tables.audit_chain_heads) if chain is not None else None,
            then_params={"chain": chain},
        )
        self.published.clear()
        await append_records(
            self.session, self.tables, self.audit_records, chain=chain, locked_head=head
        )
        self.audit_records.clear()
        await self.session.commit()
        if staged:
            wake_relay(self.session)
        callbacks, self._after_commit = self._after_commit, []
        for callback in callbacks:
            try:
                callback()
            except Exception:  # committed: a follow-up's failure is not the change's
                log.exception("after-commit step %r failed", callback)

    async def rollback(self) -> None:
        self.published.clear()
        self.audit_records.clear()
        self._after_commit.clear()
        await self.session.rollback()

    # -- Idempotency-Key (README, "How it holds together": retries are safe) ---------

    async def stored_response(
        self, key: str, method: str, path: str, fingerprint: str
    ) -> tuple[int, Any] | None:
        """The response first given to this actor's request with ``key``, if any."""
        t = self.tables.idempotency_keys
        row = (
            await self.session.execute(
                select(t).where(t.c.actor_id == self.actor_id, t.c.key == key)
            )
        ).first()
        if row is None:
            return None
        if (row.method, row.path, row.request_fingerprint) != (method, path, fingerprint):
            raise InvalidInput(
                "Idempotency-Key",
                "this key was already used for a different request; use a new key",
            )
        return row.status_code, row.response_body

    async def commit_with_response(
        self,
        key: str | None,
        method: str,
        path: str,
        fingerprint: str,
        status_code: int,
        body: Any,
    ) -> tuple[int, Any]:
        """Commit, remembering the response under ``key`` in the same transaction.

        If a concurrent request with the same key committed first, this one is rolled back
        and the first one's response is returned instead: the key creates a thing once.
        """
        if key is None:
            await self.commit()
            return status_code, body
        t = self.tables.idempotency_keys
        await self.session.flush()  # the change's own errors surface here, not below
        try:
            await self.session.execute(
                insert(t).values(
                    actor_id=self.actor_id,
                    key=key,
                    method=method,
                    path=path,
                    request_fingerprint=fingerprint,
                    status_code=status_code,
                    response_body=body,
                )
            )
            await self.commit()
        except IntegrityError:
            await self.rollback()
            stored = await self.stored_response(key, method, path, fingerprint)
            if stored is None:
                raise
            return stored
        return status_code, body


def fingerprint(body: bytes) -> str:
    """A stable digest of a request body, to tell a retry from a different request."""
    try:
        canonical = json.dumps(json.loads(body or b"null"), sort_keys=True).encode()
    except ValueError:
        canonical = body
    return hashlib.sha256(canonical).hexdigest()
