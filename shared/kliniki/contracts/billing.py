"""The events billing publishes on ``billing.events`` (besides the worklist's), data version 1.

Amounts are JSON numbers with at most two decimals (``500.0``), in the price list's currency.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Any

from pydantic import PlainSerializer

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel

CHARGE_ADDED = "charge.added"
VISIT_READY_FOR_PAYMENT = "visit.ready_for_payment"
PAYMENT_COMPLETED = "payment.completed"
INVOICE_SETTLED = "invoice.settled"

# Decimal in code, never a float; a JSON number on the wire.
Money = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]


class ChargeAdded(ApiModel):
    charge_id: str
    visit_id: str
    patient_id: str
    kind: str  # CONSULTATION / LAB_TEST / MEDICATION
    description: str
    amount: Money
    currency: str
    source_event_id: str


class InvoiceItem(ApiModel):
    charge_id: str
    kind: str
    description: str
    amount: Money


class VisitReadyForPayment(ApiModel):
    visit_id: str
    patient_id: str
    total_amount: Money
    currency: str
    payment_type: str
    services: list[str]  # ["Consultation", "Lab Tests", "Medication"]
    items: list[InvoiceItem]


class PaymentCompleted(ApiModel):
    payment_id: str
    visit_id: str
    patient_id: str
    amount: Money
    payment_type: str
    reference: str | None = None
    processed_by: str
    paid_total: Money
    balance: Money


class InvoiceSettled(ApiModel):
    visit_id: str
    patient_id: str
    total_amount: Money
    paid_amount: Money
    payment_type: str | None = None
    settled_by: str
    settled_at: dt.datetime


CONTRACTS: list[Contract[Any]] = [
    Contract("billing", CHARGE_ADDED, ChargeAdded),
    Contract(
        "billing",
        VISIT_READY_FOR_PAYMENT,
        VisitReadyForPayment,
        "once per visit: the consultation is completed and none of its orders is pending",
    ),
    Contract("billing", PAYMENT_COMPLETED, PaymentCompleted),
    Contract("billing", INVOICE_SETTLED, InvoiceSettled),
]
