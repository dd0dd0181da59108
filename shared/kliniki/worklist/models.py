"""Tables of a department's worklist, as mixins each department's models.py completes on its
own declarative base (one database per department)::

    class Assignment(AssignmentTable, Base):
        pass

The department then names its four classes in a ``WorklistModels`` for its ``Worklist``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, SmallInteger, Text, text
from sqlalchemy.orm import Mapped, declared_attr, mapped_column

from kliniki.access import Stage
from kliniki.db import Versioned, new_id, utcnow


class _Table:
    if TYPE_CHECKING:  # each department's declarative base gives the mapped class this

        def __init__(self, **columns: Any) -> None: ...


class AssignmentTable(_Table, Versioned):
    """A patient waiting for, or being seen by, a member of this department."""

    __tablename__ = "assignments"

    @declared_attr.directive
    def __table_args__(cls) -> tuple[Any, ...]:  # noqa: N805
        # Made for each department's table: an Index belongs to one table only.
        return (
            Index("ix_assignments_worklist", "status", "priority_rank", "created_at"),
            # A patient is on a department's worklist at most once per visit.
            Index(
                "uq_assignments_active_visit",
                "visit_id",
                unique=True,
                postgresql_where=text("status = 'ACTIVE'"),
            ),
        )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("assignment"))
    # The department's stage (Worklist writes it).
    assignment_type: Mapped[str] = mapped_column(Text, nullable=False)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    visit_id: Mapped[str | None] = mapped_column(Text, index=True)
    patient_name: Mapped[str] = mapped_column(Text, nullable=False, default="")
    op_number: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text, nullable=False, default="NORMAL")
    # 0 sorts first: URGENT before NORMAL, then by arrival.
    priority_rank: Mapped[int] = mapped_column(Integer, nullable=False, default=1)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="ACTIVE")
    # None: waiting in the role's shared queue for someone to claim it.
    assigned_to_user_id: Mapped[str | None] = mapped_column(Text, index=True)
    assigned_to_name: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)
    # Why the patient is here, in words for the assignee ("triaged as URGENT - chest pain").
    reason: Mapped[str | None] = mapped_column(Text)
    # How often the patient was escalated for waiting here past their target (0, 1, 2).
    escalation_level: Mapped[int] = mapped_column(
        SmallInteger, nullable=False, default=0, server_default="0"
    )
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class DutyShiftTable(_Table):
    """Who of this department's role is on duty now (new assignments go to them)."""

    __tablename__ = "duty_roster"

    user_id: Mapped[str] = mapped_column(Text, primary_key=True)
    name: Mapped[str] = mapped_column(Text, nullable=False)
    on_duty: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    updated_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
    )


class PatientSnapshotTable(_Table):
    """What this department knows of a patient, from registration's events."""

    __tablename__ = "patient_snapshots"

    patient_id: Mapped[str] = mapped_column(Text, primary_key=True)
    op_number: Mapped[str] = mapped_column(Text, nullable=False)
    first_name: Mapped[str] = mapped_column(Text, nullable=False)
    last_name: Mapped[str] = mapped_column(Text, nullable=False)
    gender: Mapped[str | None] = mapped_column(Text)
    age: Mapped[int | None] = mapped_column(Integer)
    current_visit_id: Mapped[str | None] = mapped_column(Text)
    # The registration event sequence last applied: older events never overwrite newer.
    source_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}"


class PatientVisitTable(_Table):
    """Whose visit is this, from registration's events: every write and every event that
    names a patient and a visit must agree with it."""

    __tablename__ = "patient_visits"

    visit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    # The SATS colour triage gave the visit: how long the patient may wait at each stage.
    triage_colour: Mapped[str | None] = mapped_column(Text)


@dataclass(frozen=True)
class WorklistModels:
    """A department's stage and its four mapped worklist classes."""

    stage: Stage
    Assignment: type[AssignmentTable]
    DutyShift: type[DutyShiftTable]
    PatientSnapshot: type[PatientSnapshotTable]
    PatientVisit: type[PatientVisitTable]
