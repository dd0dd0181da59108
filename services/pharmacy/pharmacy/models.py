"""Tables of the pharmacy database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Index, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kliniki.access import Stage
from kliniki.db import Versioned, service_metadata
from kliniki.worklist import (
    AssignmentTable,
    DutyShiftTable,
    PatientSnapshotTable,
    PatientVisitTable,
    WorklistModels,
)


class Base(DeclarativeBase):
    metadata = service_metadata()


# The worklist's tables (kliniki.worklist.models), in this department's database.
class Assignment(AssignmentTable, Base):
    pass


class DutyShift(DutyShiftTable, Base):
    pass


class PatientSnapshot(PatientSnapshotTable, Base):
    pass


class PatientVisit(PatientVisitTable, Base):
    pass


worklist_models = WorklistModels(
    Stage.PHARMACY, Assignment, DutyShift, PatientSnapshot, PatientVisit
)


class Prescription(Versioned, Base):
    """A prescription as the pharmacy dispenses it. The id is clinical's prescriptionId; the
    clinical fields are a copy of the order and only clinical changes them."""

    __tablename__ = "prescriptions"
    __table_args__ = (Index("ix_prescriptions_status", "status", "priority", "prescribed_at"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    patient_name: Mapped[str] = mapped_column(Text, nullable=False)
    op_number: Mapped[str | None] = mapped_column(Text)
    medication_name: Mapped[str] = mapped_column(Text, nullable=False)
    dosage: Mapped[str | None] = mapped_column(Text)
    frequency: Mapped[str | None] = mapped_column(Text)
    duration: Mapped[str | None] = mapped_column(Text)
    instructions: Mapped[str | None] = mapped_column(Text)
    priority: Mapped[str] = mapped_column(Text, nullable=False)
    prescribed_by: Mapped[str] = mapped_column(Text, nullable=False)
    prescribed_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    dispensed_by: Mapped[str | None] = mapped_column(Text)
    dispensed_by_name: Mapped[str | None] = mapped_column(Text)
    dispensed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    dispensing_notes: Mapped[str | None] = mapped_column(Text)  # counselling given
    cancelled_by: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
