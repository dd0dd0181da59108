"""Tables of the triage database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Float, Integer, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kliniki.access import Stage
from kliniki.db import Versioned, new_id, service_metadata
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


worklist_models = WorklistModels(Stage.TRIAGE, Assignment, DutyShift, PatientSnapshot, PatientVisit)


class Encounter(Versioned, Base):
    """The triage of one visit: vital signs as numbers in fixed units, category, complaint."""

    __tablename__ = "encounters"

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("encounter"))
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="OPEN")
    systolic_mmhg: Mapped[float | None] = mapped_column(Float)
    diastolic_mmhg: Mapped[float | None] = mapped_column(Float)
    temperature_c: Mapped[float | None] = mapped_column(Float)
    pulse_per_min: Mapped[float | None] = mapped_column(Float)
    respiratory_rate_per_min: Mapped[float | None] = mapped_column(Float)
    oxygen_saturation_percent: Mapped[float | None] = mapped_column(Float)
    weight_kg: Mapped[float | None] = mapped_column(Float)
    triage_category: Mapped[str | None] = mapped_column(Text)
    triage_colour: Mapped[str | None] = mapped_column(Text)
    chief_complaint: Mapped[str | None] = mapped_column(Text)
    tews_score: Mapped[int | None] = mapped_column(Integer)
    recorded_by: Mapped[str | None] = mapped_column(Text)
    completed_by: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
