"""The audit trail: append-only, one row per change, chained by hash, in the change's transaction.

Records are collected by the unit of work and written when it commits: the transaction locks
its chain's head row (after all its row locks, so it cannot deadlock with them), which reads the
chain's last hash in the same statement, and appends its records, each hashing the one before.
Altering, deleting or inserting a row anywhere breaks its chain from there on, and moving a row
to another chain breaks both, which ``verify_chain`` (and ``make audit-verify``) reports.

A service keeps ``AUDIT_CHAINS`` chains, chosen by the patient the records are about: with one
chain every transaction of the service waited for the one before it to commit (its lock is
held for the last hash, the INSERT and the COMMIT), which capped a consumer at about 25 events
a second with the database 5 ms away, however many partitions and replicas shared the work.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.sql.dml import Insert

from kliniki.access import visible
from kliniki.db import KernelTables, insert_rows
from kliniki.paging import Page, PageRequest, fetch_page

AUDIT_CHAINS = 16  # changing it is safe: each chain goes on from its own last record
GENESIS = "0" * 64


def chain_of(records: Sequence[AuditRecord]) -> int:
    """The chain a transaction's records extend: by the patient of its first record (a
    patient's records stay in one chain, in order), else by that record's resource."""
    first = records[0]
    patient = next(
        (
            image["patientId"]
            for image in (first.after, first.before)
            if isinstance(image, dict) and isinstance(image.get("patientId"), str)
        ),
        first.resource_id,
    )
    return zlib.crc32(patient.encode()) % AUDIT_CHAINS


@functools.cache
def chain_head(heads: Table) -> Select[str]:
    """A chain's last hash (bind ``chain``), its row locked until the commit: one transaction
    extends a chain at a time. Under READ COMMITTED a ``SELECT ... FOR UPDATE`` that waited for
    another transaction's lock returns the row as that one committed it, so the lock and the
    read are one statement (and can ride on another: the outbox's, ``stage_events``)."""
    return select(heads.c.hash).where(heads.c.chain == bindparam("chain")).with_for_update()


async def lock_chain_head(session: AsyncSession, tables: KernelTables, chain: int) -> str:
    """Lock ``chain``'s head row and return its last hash; the chain's first writer in this
    database creates the row (a concurrent first writer waits for it, then finds it)."""
    heads = tables.audit_chain_heads
    head = await session.scalar(chain_head(heads), {"chain": chain})
    if head is None:
        await session.execute(
            pg_insert(heads).values(chain=chain, hash=GENESIS).on_conflict_do_nothing()
        )
        head = await session.scalar(chain_head(heads), {"chain": chain})
    assert head is not None
    return head


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


# What a record's hash covers besides its time and the previous hash.
HASHED_FIELDS = (
    "actor_id",
    "action",
    "resource",
    "resource_id",
    "before",
    "after",
    "details",
    "request_id",
)


def record_hash(prev_hash: str, record: dict[str, Any]) -> str:
    """SHA-256 over the previous hash and the record's canonical JSON."""
    fields = {key: record[key] for key in HASHED_FIELDS}
    occurred = record["occurred_at"]
    fields["occurred_at"] = occurred.isoformat() if isinstance(occurred, dt.datetime) else occurred
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{prev_hash}{canonical}".encode()).hexdigest()


async def append_records(
    session: AsyncSession,
    tables: KernelTables,
    records: Iterable[AuditRecord],
    *,
    chain: int | None = None,
    locked_head: str | None = None,
) -> None:
    """Append ``records`` to their chain (``chain_of`` unless given). ``locked_head``: the
    chain's last hash, read by an earlier statement of this transaction that locked it
    (``chain_head``); otherwise this locks and reads it first."""
    records = list(records)
    if not records:
        return
    chain = chain_of(records) if chain is None else chain
    prev = locked_head or await lock_chain_head(session, tables, chain)
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
            "chain": chain,
        }
        row["hash"] = prev = record_hash(prev, row)
        row["occurred_at"] = record.occurred_at.isoformat()  # the rows travel as JSON
        rows.append(row)
    # The records and the chain's new head in one statement.
    await session.execute(
        _append(tables.audit_log, tables.audit_chain_heads),
        {"rows": rows, "chain": chain, "hash": prev},
    )


AUDIT_COLUMNS = (*HASHED_FIELDS, "occurred_at", "prev_hash", "chain", "hash")


@functools.cache
def _append(audit: Table, heads: Table) -> Insert:
    head = pg_insert(heads).values(chain=bindparam("chain"), hash=bindparam("hash"))
    head = head.on_conflict_do_update(
        index_elements=[heads.c.chain], set_={"hash": head.excluded.hash}
    )
    return head.add_cte(insert_rows(audit, AUDIT_COLUMNS).cte("records"))


@dataclass(frozen=True)
class ChainReport:
    records: int
    broken_at: int | None  # the id of the first record whose hash does not follow
    reason: str | None

    @property
    def intact(self) -> bool:
        return self.reason is None


async def verify_chain(conn: AsyncConnection, tables: KernelTables) -> ChainReport:
    """Recompute every hash, chain by chain, in id order; each chain must end at its head."""
    audit, heads_table = tables.audit_log, tables.audit_chain_heads
    heads = {r.chain: r.hash for r in await conn.execute(select(heads_table))}
    prev, count, chain, last_id = GENESIS, 0, None, 0

    def head_mismatch() -> ChainReport | None:
        if chain is not None and heads.pop(chain, None) != prev:
            return ChainReport(count, last_id, "a record after it was removed or altered")
        return None

    result = await conn.stream(select(audit).order_by(audit.c.chain, audit.c.id))
    async for row in result:
        record = dict(row._mapping)
        if record["chain"] != chain:  # the next chain starts from the genesis hash
            if (broken := head_mismatch()) is not None:
                return broken
            prev, chain = GENESIS, record["chain"]
        count += 1
        last_id = record["id"]
        if record["prev_hash"] != prev:
            return ChainReport(count, record["id"], "a record before it was removed or altered")
        if record_hash(prev, record) != record["hash"]:
            return ChainReport(count, record["id"], "the record was altered")
        prev = record["hash"]
    if (broken := head_mismatch()) is not None:
        return broken
    if heads:  # a chain whose every record was removed
        return ChainReport(count, None, f"chain {min(heads)}: its records were removed or altered")
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
