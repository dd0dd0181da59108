"""Tables of the registration database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Index, Integer, Numeric, Text
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
