"""Tables of the billing database.

One invoice per visit. Its total, paid amount and balance are never stored: they are the sums
of its charges and payments, so they cannot drift from them. Every change to a visit's billing
locks the invoice row first, which serialises a visit's charges, payments and settlement.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kliniki.access import Stage
from kliniki.db import Versioned, new_id, service_metadata, utcnow
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
    Stage.PAYMENT, Assignment, DutyShift, PatientSnapshot, PatientVisit
)

MONEY = Numeric(12, 2)


class Invoice(Versioned, Base):
    """The bill of one visit; its version moves with every charge and payment."""

    __tablename__ = "invoices"

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("invoice"))
    visit_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False, index=True)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    # From registration: how the visit is paid (CASH, SHA, ...); None until its event arrives.
    payment_type: Mapped[str | None] = mapped_column(Text)
    # Registration's word on the visit (REGISTERED ... COMPLETED, CANCELLED).
    visit_status: Mapped[str | None] = mapped_column(Text)
    # Registration's version of the visit last applied: an older event never overwrites it.
    visit_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0)
    consultation_completed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    ready_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    settled_by: Mapped[str | None] = mapped_column(Text)


class Charge(Base):
    """One billable item. Never changed once written: a correction would be a new line."""

    __tablename__ = "charges"
    __table_args__ = (
        # One charge per thing done: the consultation of a visit, a lab request, a prescription,
        # whatever event ids they arrive under.
        UniqueConstraint("kind", "source_ref", name="uq_charges_kind_source_ref"),
        Index("ix_charges_invoice", "invoice_id", "created_at"),
        CheckConstraint("amount >= 0", name="amount_not_negative"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("charge"))
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), nullable=False)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    # What was priced: the lab test type, the medication name; None for the consultation.
    code: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    # False: the price list did not name the item and it was charged 0.00 for now.
    priced: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    # The event that made it (the ``inbox`` aside, this keeps a replayed event from charging
    # twice) and what it charges for: the visit id, the lab request id, the prescription id.
    source_event_id: Mapped[str] = mapped_column(Text, nullable=False, unique=True)
    source_ref: Mapped[str] = mapped_column(Text, nullable=False)
    created_by: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )


class VisitOrder(Versioned, Base):
    """A lab request or prescription of a visit, as far as billing needs it: is it done?"""

    __tablename__ = "visit_orders"

    id: Mapped[str] = mapped_column(Text, primary_key=True)  # clinical's order id
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), nullable=False, index=True)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False)
    kind: Mapped[str] = mapped_column(Text, nullable=False)
    status: Mapped[str] = mapped_column(Text, nullable=False)


class Payment(Base):
    """Money received for a visit. Never changed once written (a refund would be a new row)."""

    __tablename__ = "payments"
    __table_args__ = (
        Index("ix_payments_invoice", "invoice_id", "processed_at"),
        CheckConstraint("amount > 0", name="amount_positive"),
    )

    id: Mapped[str] = mapped_column(Text, primary_key=True, default=lambda: new_id("payment"))
    invoice_id: Mapped[str] = mapped_column(ForeignKey("invoices.id"), nullable=False)
    visit_id: Mapped[str] = mapped_column(Text, nullable=False)
    patient_id: Mapped[str] = mapped_column(Text, nullable=False)
    amount: Mapped[Decimal] = mapped_column(MONEY, nullable=False)
    currency: Mapped[str] = mapped_column(Text, nullable=False)
    payment_type: Mapped[str] = mapped_column(Text, nullable=False)
    # The M-Pesa code, the insurance claim number, the card authorisation, a receipt number.
    reference: Mapped[str | None] = mapped_column(Text)
    payer: Mapped[str | None] = mapped_column(Text)  # the insurer of an INSURANCE payment
    status: Mapped[str] = mapped_column(Text, nullable=False)
    processed_by: Mapped[str] = mapped_column(Text, nullable=False)
    processed_by_name: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), nullable=False, default=utcnow
    )
