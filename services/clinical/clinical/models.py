"""Tables of the clinical database."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import BigInteger, Date, DateTime, Text
from sqlalchemy.dialects.postgresql import JSONB
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


worklist_models = WorklistModels(
    Stage.CONSULTATION, Assignment, DutyShift, PatientSnapshot, PatientVisit
)


class TriageFindings(Base):
    """Triage's findings for a visit, from triage's events: the doctor's starting point."""

    __tablename__ = "triage_findings"

    visit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    encounter_id: Mapped[str] = mapped_column(Text, nullable=False)
    triage_category: Mapped[str | None] = mapped_column(Text)
    chief_complaint: Mapped[str | None] = mapped_column(Text)
    vital_signs: Mapped[dict[str, Any]] = mapped_column(JSONB, nullable=False, default=dict)
    tews_score: Mapped[int | None] = mapped_column(BigInteger)
    recorded_by: Mapped[str | None] = mapped_column(Text)
    completed: Mapped[bool] = mapped_column(default=False)
    # Triage's outbox sequence last applied: an older event never overwrites a newer one.
    source_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class Diagnosis(Versioned, Base):
    __tablename__ = "diagnoses"

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("diagnosis"))
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    diagnosis_code: Mapped[str] = mapped_column(Text, nullable=False)
    diagnosis_name: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)
    diagnosed_by: Mapped[str] = mapped_column(Text, nullable=False)


class Prescription(Versioned, Base):
    __tablename__ = "prescriptions"

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("prescription"))
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    medication_name: Mapped[str] = mapped_column(Text, nullable=False)
    dosage: Mapped[str] = mapped_column(Text, nullable=False)
    frequency: Mapped[str] = mapped_column(Text, nullable=False)
    duration: Mapped[str] = mapped_column(Text, nullable=False)
    instructions: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="ACTIVE")
    prescribed_by: Mapped[str] = mapped_column(Text, nullable=False)
    dispensed_by: Mapped[str | None] = mapped_column(Text)
    dispensed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class LabRequest(Versioned, Base):
    __tablename__ = "lab_requests"

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("lab_request"))
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    test_type: Mapped[str] = mapped_column(Text, nullable=False)
    urgency: Mapped[str] = mapped_column(Text, nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="REQUESTED")
    requested_by: Mapped[str] = mapped_column(Text, nullable=False)
    results: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    results_critical: Mapped[bool | None] = mapped_column()
    result_notes: Mapped[str | None] = mapped_column(Text)
    completed_by: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class VisitRecord(Base):
    """What registration says of a visit (event-carried state): the FHIR Encounter's period and
    the patient's phone, so an export never asks registration."""

    __tablename__ = "visit_records"

    visit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    phone_number: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str | None] = mapped_column(Text)
    opened_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    # Registration's outbox sequence last applied: an older event never overwrites a newer one.
    source_sequence: Mapped[int] = mapped_column(BigInteger, nullable=False, default=0)


class FollowUp(Base):
    """An appointment registration scheduled after a visit (``appointment.scheduled``)."""

    __tablename__ = "follow_ups"

    appointment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False)
    visit_id: Mapped[str | None] = mapped_column(Text, index=True)
    appointment_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    appointment_type: Mapped[str] = mapped_column(Text, nullable=False)
    clinician_id: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
