"""Tables of the lab database."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Boolean, DateTime, Float, ForeignKey, Index, Integer, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from kliniki.access import Stage
from kliniki.db import Versioned, service_metadata, utcnow
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


worklist_models = WorklistModels(Stage.LAB, Assignment, DutyShift, PatientSnapshot, PatientVisit)


class LabRequest(Versioned, Base):
    """A test clinical ordered, as the lab works on it. The id is clinical's labRequestId,
    so the doctor's record, the lab and the events all name the request the same way."""

    __tablename__ = "lab_requests"
    __table_args__ = (Index("ix_lab_requests_status", "status", "urgency", "requested_at"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    # From the patient snapshot at the time of the order (the worklist shows them).
    patient_name: Mapped[str] = mapped_column(Text, nullable=False)
    op_number: Mapped[str | None] = mapped_column(Text)
    test_type: Mapped[str] = mapped_column(Text, nullable=False)
    test_name: Mapped[str] = mapped_column(Text, nullable=False)
    urgency: Mapped[str] = mapped_column(Text, nullable=False)
    order_notes: Mapped[str | None] = mapped_column(Text)  # the clinician's, with the order
    requested_by: Mapped[str] = mapped_column(Text, nullable=False)
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    notes: Mapped[str | None] = mapped_column(Text)  # the lab's, with the results
    critical: Mapped[bool] = mapped_column(Boolean, nullable=False, default=False)
    started_by: Mapped[str | None] = mapped_column(Text)
    started_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    completed_by: Mapped[str | None] = mapped_column(Text)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancelled_by: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)

    results: Mapped[list[LabResult]] = relationship(
        back_populates="request",
        lazy="selectin",  # async sessions cannot lazy-load: results come with the request
        order_by="LabResult.position",
        cascade="all, delete-orphan",
    )


class LabResult(Base):
    """One analyte's value in a request, stored as a number with its unit (or a qualitative
    answer) with the flag and the ranges it was judged against."""

    __tablename__ = "lab_results"

    lab_request_id: Mapped[str] = mapped_column(
        ForeignKey("lab_requests.id", ondelete="CASCADE"), primary_key=True
    )
    analyte: Mapped[str] = mapped_column(Text, primary_key=True)
    position: Mapped[int] = mapped_column(Integer, nullable=False)  # catalogue order
    name: Mapped[str] = mapped_column(Text, nullable=False)
    value_number: Mapped[float | None] = mapped_column(Float)
    value_text: Mapped[str | None] = mapped_column(Text)  # a qualitative answer: POSITIVE
    unit: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text, nullable=False)  # as shown: "2.5 ng/mL"
    flag: Mapped[str] = mapped_column(Text, nullable=False)
    reference_low: Mapped[float | None] = mapped_column(Float)
    reference_high: Mapped[float | None] = mapped_column(Float)
    critical_low: Mapped[float | None] = mapped_column(Float)
    critical_high: Mapped[float | None] = mapped_column(Float)
    entered_by: Mapped[str] = mapped_column(Text, nullable=False)
    entered_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )

    request: Mapped[LabRequest] = relationship(back_populates="results")
