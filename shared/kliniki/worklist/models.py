"""Tables of a department's worklist, defined on the department's own declarative base."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, Boolean, DateTime, Index, Integer, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kliniki.access import Stage
from kliniki.db import Versioned, new_id, utcnow


@dataclass(frozen=True)
class WorklistModels:
    stage: Stage
    Assignment: type
    DutyShift: type
    PatientSnapshot: type
    PatientVisit: type


def define_worklist(base: type[DeclarativeBase], stage: Stage) -> WorklistModels:
    """Map the worklist tables onto ``base`` (one department's database)."""

    class Assignment(Versioned, base):  # type: ignore[valid-type,misc]
        """A patient waiting for, or being seen by, a member of this department."""

        __tablename__ = "assignments"
        __table_args__ = (
            Index("ix_assignments_worklist", "status", "priority_rank", "created_at"),
            # A patient is on a department's worklist at most once per visit.
            Index(
                "uq_assignments_active_visit",
                "visit_id",
                unique=True,
                postgresql_where=text("status = 'ACTIVE'"),
            ),
        )

        id: Mapped[str] = mapped_column(
            Text, primary_key=True, default=lambda: new_id("assignment")
        )
        assignment_type: Mapped[str] = mapped_column(Text, nullable=False, default=stage.value)
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
        completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

    class DutyShift(base):  # type: ignore[valid-type,misc]
        """Who of this department's role is on duty now (new assignments go to them)."""

        __tablename__ = "duty_roster"

        user_id: Mapped[str] = mapped_column(Text, primary_key=True)
        name: Mapped[str] = mapped_column(Text, nullable=False)
        on_duty: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
        updated_at: Mapped[dt.datetime] = mapped_column(
            DateTime(timezone=True), nullable=False, default=utcnow, onupdate=utcnow
        )

    class PatientSnapshot(base):  # type: ignore[valid-type,misc]
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

    class PatientVisit(base):  # type: ignore[valid-type,misc]
        """Whose visit is this, from registration's events: every write and every event that
        names a patient and a visit must agree with it."""

        __tablename__ = "patient_visits"

        visit_id: Mapped[str] = mapped_column(Text, primary_key=True)
        patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)

    return WorklistModels(stage, Assignment, DutyShift, PatientSnapshot, PatientVisit)
