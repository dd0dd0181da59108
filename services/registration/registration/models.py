"""Tables of the registration database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, Numeric, Text, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kliniki.db import Versioned, new_id, service_metadata, utcnow


class Base(DeclarativeBase):
    metadata = service_metadata()


class OpNumberCounter(Base):
    """One row: the last OP number issued. Incremented inside the registration transaction,
    so numbers are unique and gap-free (a rolled-back registration returns its number)."""

    __tablename__ = "op_number_counter"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_value: Mapped[int] = mapped_column(BigInteger, nullable=False)


class Patient(Versioned, Base):
    __tablename__ = "patients"
    __table_args__ = (
        Index("ix_patients_name", "last_name", "first_name"),
        Index("ix_patients_phone", "phone_number"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("patient"))
    op_number: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    first_name: Mapped[str] = mapped_column(Text, nullable=False)
    last_name: Mapped[str] = mapped_column(Text, nullable=False)
    gender: Mapped[str] = mapped_column(Text, nullable=False)
    date_of_birth: Mapped[dt.date | None] = mapped_column(Date)
    age: Mapped[int | None] = mapped_column(Integer)
    phone_number: Mapped[str | None] = mapped_column(Text)
    insurance_type: Mapped[str] = mapped_column(Text, nullable=False)
    insurance_number: Mapped[str | None] = mapped_column(Text)
    registered_by: Mapped[str] = mapped_column(Text, nullable=False)


class Visit(Versioned, Base):
    __tablename__ = "visits"
    __table_args__ = (Index("ix_visits_status", "status", "opened_at"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("visit"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), nullable=False, index=True)
    op_number: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)
    payment_type: Mapped[str] = mapped_column(Text, nullable=False)
    payment_status: Mapped[str] = mapped_column(Text, nullable=False, default="UNPAID")
    total_amount: Mapped[Decimal | None] = mapped_column(Numeric(12, 2))
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    discharge_notes: Mapped[str | None] = mapped_column(Text)
    cancellation_reason: Mapped[str | None] = mapped_column(Text)
    opened_by: Mapped[str] = mapped_column(Text, nullable=False)


class Appointment(Versioned, Base):
    """A future appointment (a follow-up after this visit, say) with a clinician."""

    __tablename__ = "appointments"

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("appointment"))
    patient_id: Mapped[str] = mapped_column(ForeignKey("patients.id"), nullable=False, index=True)
    visit_id: Mapped[str | None] = mapped_column(Text)
    appointment_date: Mapped[dt.date] = mapped_column(Date, nullable=False)
    appointment_type: Mapped[str] = mapped_column(Text, nullable=False)
    clinician_id: Mapped[str | None] = mapped_column(Text)
    notes: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, nullable=False, default="SCHEDULED")
    scheduled_by: Mapped[str] = mapped_column(Text, nullable=False)


# -- The daily outpatient report's read model: what the other departments told registration ---


class VisitTriage(Base):
    """The SATS colour triage gave a visit (``triage.completed``)."""

    __tablename__ = "report_visit_triage"

    visit_id: Mapped[str] = mapped_column(Text, primary_key=True)
    triage_colour: Mapped[str | None] = mapped_column(Text)


class StageWait(Base):
    """A patient's time on one department's worklist (``assignment.created`` to handed on),
    and who has them there now (``registration.board``)."""

    __tablename__ = "report_stage_waits"
    __table_args__ = (  # the board asks for a visit's stages still open
        Index("ix_report_stage_waits_open", "visit_id", postgresql_where=text("done_at IS NULL")),
    )

    assignment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    visit_id: Mapped[str | None] = mapped_column(Text, index=True)
    stage: Mapped[str] = mapped_column(Text, nullable=False)
    arrived_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    done_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    breaches: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # Who has the patient at this stage now (the visits board); None: the shared queue.
    assigned_to_user_id: Mapped[str | None] = mapped_column(Text)
    assigned_to_name: Mapped[str | None] = mapped_column(Text)
    escalation_level: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    # The assignment's version last applied: an older event never overwrites a newer one.
    assignment_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)


class DiagnosisMade(Base):
    """An ICD-10 diagnosis of a visit (``diagnosis.added``): code and title, nothing more."""

    __tablename__ = "report_diagnoses"

    diagnosis_id: Mapped[str] = mapped_column(Text, primary_key=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    code: Mapped[str] = mapped_column(Text, nullable=False)
    name: Mapped[str] = mapped_column(Text, nullable=False)


class PaymentTaken(Base):
    """A payment at the till (``payment.completed``)."""

    __tablename__ = "report_payments"

    payment_id: Mapped[str] = mapped_column(Text, primary_key=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False)
    payment_type: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[Decimal] = mapped_column(Numeric(12, 2), nullable=False)
    paid_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, index=True
    )
