"""Database plumbing: per-service metadata with the kernel's tables, engine, versioned records.

Each service has its own ``MetaData`` (its own database), built by :func:`service_metadata`,
which also defines the tables the kernel itself needs there: the outbox, the inbox, the
audit log and the idempotency keys. Kernel code reaches them as ``kernel_tables(metadata)``.
"""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, TypeVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    bindparam,
    column,
    func,
    insert,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import Mapped, declared_attr, mapped_column
from sqlalchemy.sql import FromClause
from sqlalchemy.sql.dml import Insert

from kliniki.problems import NotFound
from kliniki.settings import ServiceSettings

T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_id(prefix: str) -> str:
    """Readable, unguessable record ids: ``patient_3f9c...``."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class KernelTables:
    outbox: Table
    inbox: Table
    audit_log: Table
    idempotency_keys: Table
    audit_chain_heads: Table


def _define_kernel_tables(metadata: MetaData) -> None:
    Table(
        "outbox",
        metadata,
        # The id orders publication and doubles as the event's ``sequence``.
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("event_id", Text, nullable=False, unique=True),
        Column("routing_key", Text, nullable=False),
        Column("envelope", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Column("attempts", Integer, nullable=False, server_default=text("0")),
        Column("last_error", Text),
        Index("ix_outbox_unpublished", "id", postgresql_where=text("published_at IS NULL")),
    )
    Table(
        "inbox",
        metadata,
        Column("consumer", Text, nullable=False),
        Column("event_id", Text, nullable=False),
        Column("event_type", Text, nullable=False),
        Column("handled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("consumer", "event_id"),
    )
    Table(
        "audit_log",
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("occurred_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("actor_id", Text, nullable=False),
        Column("action", Text, nullable=False),
        Column("resource", Text, nullable=False),
        Column("resource_id", Text, nullable=False),
        Column("before", JSONB),
        Column("after", JSONB),
        Column("details", Text),
        Column("request_id", Text),
        # The chain: each record's hash covers the previous record's hash (kliniki.audit).
        Column("prev_hash", Text),
        Column("hash", Text),
        # Which of the service's chains the record extends (kliniki.audit.AUDIT_CHAINS).
        Column("chain", SmallInteger, nullable=False, server_default=text("0")),
        Index("ix_audit_log_resource", "resource", "resource_id"),
        Index("ix_audit_log_chain", "chain", "id"),
    )
    # Each chain's last hash: a record removed from a chain's end no longer goes unnoticed.
    Table(
        "audit_chain_heads",
        metadata,
        Column("chain", SmallInteger, primary_key=True, autoincrement=False),
        Column("hash", Text, nullable=False),
    )
    Table(
        "idempotency_keys",
        metadata,
        Column("actor_id", Text, nullable=False),
        Column("key", Text, nullable=False),
        Column("method", Text, nullable=False),
        Column("path", Text, nullable=False),
        Column("request_fingerprint", Text, nullable=False),
        Column("status_code", SmallInteger, nullable=False),
        Column("response_body", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("actor_id", "key"),
    )


def define_staff_directory(metadata: MetaData) -> Table:
    """This service's copy of the staff directory, kept from identity's events
    (kliniki.directory)."""
    return Table(
        "staff_directory",
        metadata,
        Column("user_id", Text, primary_key=True),
        Column("name", Text, nullable=False),
        Column("roles", ARRAY(Text), nullable=False),
        Column("active", Boolean, nullable=False),
        # identity's account version: an older event never overwrites a newer one
        Column("version", Integer, nullable=False),
        Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def service_metadata(*, staff_directory: bool = True) -> MetaData:
    """A fresh MetaData for one service's database, holding the kernel's tables (and the
    staff directory, except in identity, which holds the accounts themselves)."""
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    _define_kernel_tables(metadata)
    if staff_directory:
        define_staff_directory(metadata)
    return metadata


@functools.cache
def insert_rows(table: Table, columns: tuple[str, ...]) -> Insert:
    """An INSERT of any number of rows, which travel as one JSON array (the bind ``rows``, a
    list of dicts with these keys): the statement is the same whatever the rows, so it is
    built and compiled once, and prepared once per connection. A ``values([...])`` statement
    is built, keyed and compiled again for every call: about 0.2 ms of CPU each time, a large
    part of a consumer's cost per event (bench/README.md). A JSON null is an SQL NULL."""
    record = (
        func.jsonb_to_recordset(bindparam("rows", type_=JSONB))
        .table_valued(*(column(name, table.c[name].type) for name in columns))
        .render_derived(with_types=True)
    )
    return insert(table).from_select(list(columns), select(*(record.c[n] for n in columns)))


def kernel_tables(metadata: MetaData) -> KernelTables:
    t = metadata.tables
    return KernelTables(
        t["outbox"], t["inbox"], t["audit_log"], t["idempotency_keys"], t["audit_chain_heads"]
    )


class Versioned:
    """Mixin for every mutable record: optimistic locking on ``version``.

    SQLAlchemy adds ``AND version = :read_version`` to each UPDATE and raises
    ``StaleDataError`` when another transaction got there first; the app factory turns that
    into 409 Conflict. An update that names a stale version is refused earlier, in
    :func:`kliniki.problems.check_version`.
    """

    if TYPE_CHECKING:  # the mapped class's table, which the declarative base gives it
        __table__: ClassVar[FromClause]

    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, object]:  # noqa: N805
        return {"version_id_col": cls.__table__.c.version}


async def load(
    session: AsyncSession, model: type[T], record_id: str, label: str, *, for_update: bool = False
) -> T:
    """The record, or 404 naming it. ``for_update`` locks the row for the rest of the
    transaction, so a version check made on it stays true until commit (and a stale writer
    gets 409 with the current record, not a lost race)."""
    record = await session.get(
        model, record_id, with_for_update=for_update, populate_existing=for_update
    )
    if record is None:
        raise NotFound(f"no {label} {record_id}")
    return record


# Connection exceptions (class 08), shutting down or starting up (57P01-03), too many clients.
UNAVAILABLE_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53300")


def is_database_unavailable(exc: BaseException) -> bool:
    """The database could not be reached or dropped the connection (a restart, a failover):
    not the request's or the event's fault, and over once the database is back."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return True
        if (getattr(exc.orig, "sqlstate", None) or "").startswith(UNAVAILABLE_SQLSTATES):
            return True
    return isinstance(exc, OperationalError | InterfaceError | OSError)


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    return create_async_engine(
        settings.database_url,
        pool_size=10,
        max_overflow=10,
        # No pre-ping: with asyncpg it costs three round trips (BEGIN, a ping, ROLLBACK) on
        # every checkout, i.e. every transaction. A PostgreSQL restart is survived without it:
        # the first statement to meet a dropped connection fails as "database unavailable"
        # (503 with Retry-After to a request; a consumer retries the event) and SQLAlchemy
        # then discards every pooled connection made before the failure.
        pool_pre_ping=False,
    )


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)
