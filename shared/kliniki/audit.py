"""The audit trail: append-only, one row per change, chained by hash, in the change's transaction.

Records are collected by the unit of work and written when it commits: the transaction takes
a transaction-scoped advisory lock (after all its row locks, so it cannot deadlock with them),
reads the last hash, and appends its records, each hashing the one before. Altering, deleting
or inserting a row anywhere breaks the chain from there on, which ``verify_chain`` (and
``make audit-verify``) reports.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from kliniki.access import visible
from kliniki.db import KernelTables
from kliniki.paging import Page, PageRequest, fetch_page

# One advisory lock id per database: only one transaction extends the chain at a time.
AUDIT_CHAIN_LOCK = 0x4B4C4E4B  # "KLNK"
GENESIS = "0" * 64


@dataclass(frozen=True)
class AuditRecord:
    actor_id: str
    action: str
    resource: str
    resource_id: str
    before: Any
    after: Any
    details: str | None
    request_id: str | None
    occurred_at: dt.datetime


def record_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's canonical JSON."""
    fields = {
        key: record[key]
        for key in (
            "actor_id",
            "action",
            "resource",
            "resource_id",
            "before",
            "after",
            "details",
            "request_id",
        )
    }
    occurred = record["occurred_at"]
    fields["occurred_at"] = occurred.isoformat() if isinstance(occurred, dt.datetime) else occurred
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}{canonical}".encode()).hexdigest()


async def append_records(
    session: AsyncSession,
    tables: KernelTables,
    records: Iterable[AuditRecord],
    *,
    chain_locked: bool = False,
) -> None:
    """Append ``records`` to the chain. ``chain_locked``: the transaction already holds
    ``AUDIT_CHAIN_LOCK`` (taken by an earlier statement of it: the last hash must be read by
    a statement that starts after the lock is held, so they cannot share one)."""
    records = list(records)
    if not records:
        return
    audit = tables.audit_log
    if not chain_locked:
        await session.execute(select(func.pg_advisory_xact_lock(AUDIT_CHAIN_LOCK)))
    prev = await session.scalar(select(audit.c.hash).order_by(audit.c.id.desc()).limit(1))
    prev = prev or GENESIS
    rows = []
    for record in records:
        row = {
            "actor_id": record.actor_id,
            "action": record.action,
            "resource": record.resource,
            "resource_id": record.resource_id,
            "before": record.before,
            "after": record.after,
            "details": record.details,
            "request_id": record.request_id,
            # Microseconds as stored by PostgreSQL, so the hash can be recomputed from the row.
            "occurred_at": record.occurred_at,
            "prev_hash": prev,
        }
        row["hash"] = prev = record_hash(prev, row)
        rows.append(row)
    await session.execute(insert(audit), rows)


@dataclass(frozen=True)
class ChainReport:
    records: int
    broken_at: int | None  # the id of the first record whose hash does not follow
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.broken_at is None


async def verify_chain(conn: AsyncConnection, tables: KernelTables) -> ChainReport:
    """Recompute every hash in id order."""
    audit = tables.audit_log
    prev, count = GENESIS, 0
    result = await conn.stream(select(audit).order_by(audit.c.id))
    async for row in result:
        record = dict(row._mapping)
        count += 1
        if record["prev_hash"] != prev:
            return ChainReport(count, record["id"], "a record before it was removed or altered")
        if record_hash(prev, record) != record["hash"]:
            return ChainReport(count, record["id"], "the record was altered")
        prev = record["hash"]
    return ChainReport(count, None, None)


async def history(
    session: AsyncSession,
    tables: KernelTables,
    *,
    patient_id: str | None,
    resource_id: str | None,
    page: PageRequest,
    roles: frozenset[str],
) -> Page:
    """Audit records about a patient (any record naming them) or one resource, oldest first,
    as a user with ``roles`` may see them: a record's clinical fields (its before and after
    images, and the details of a wholly clinical one) only for clinical readers."""
    audit = tables.audit_log
    query = select(audit)
    if resource_id:
        query = query.where(audit.c.resource_id == resource_id)
    if patient_id:
        query = query.where(
            (audit.c.resource_id == patient_id)
            | (audit.c.after["patientId"].astext == patient_id)
            | (audit.c.before["patientId"].astext == patient_id)
        )
    found = await fetch_page(session, query, [audit.c.id], page, mappings=True)
    return Page([_as_seen(r, roles) for r in found.items], found.next_cursor)


def _as_seen(r: dict[str, Any], roles: frozenset[str]) -> dict[str, Any]:
    kind = r["resource"]
    return {
        "id": r["id"],
        "occurredAt": r["occurred_at"],
        "actorId": r["actor_id"],
        "action": r["action"],
        "resource": kind,
        "resourceId": r["resource_id"],
        "before": visible(kind, r["before"], roles),
        "after": visible(kind, r["after"], roles),
        "details": visible(kind, {"details": r["details"]}, roles).get("details"),
        "requestId": r["request_id"],
        "hash": r["hash"],
    }
