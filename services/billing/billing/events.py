"""The events billing publishes on ``billing.events`` (besides the worklist's), data version 1,
and the ones it consumes."""

from __future__ import annotations

import datetime as dt

from billing.schemas import Money
from kliniki.schemas import ApiModel

CHARGE_ADDED = "charge.added"
VISIT_READY_FOR_PAYMENT = "visit.ready_for_payment"
PAYMENT_COMPLETED = "payment.completed"
INVOICE_SETTLED = "invoice.settled"

# Consumed: the visit and how it is paid (registration), what was done (the departments).
PATIENT_REGISTERED = "patient.registered"
VISIT_OPENED = "visit.opened"
VISIT_UPDATED = "visit.updated"
VISIT_COMPLETED = "visit.completed"
CONSULTATION_COMPLETED = "consultation.completed"
LAB_REQUEST_CREATED = "lab_request.created"
LAB_REQUEST_CANCELLED = "lab_request.cancelled"
LAB_REQUEST_COMPLETED = "lab_request.completed"
PRESCRIPTION_CREATED = "prescription.created"
PRESCRIPTION_CANCELLED = "prescription.cancelled"
PRESCRIPTION_DISPENSED = "prescription.dispensed"


class ChargeAdded(ApiModel):
    charge_id: str
    visit_id: str
    patient_id: str
    kind: str
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
    services: list[str]
    items: list[InvoiceItem]


class PaymentCompleted(ApiModel):
    payment_id: str
    visit_id: str
    patient_id: str
    amount: Money
    payment_type: str
    reference: str | None
    processed_by: str
    paid_total: Money
    balance: Money


class InvoiceSettled(ApiModel):
    visit_id: str
    patient_id: str
    total_amount: Money
    paid_amount: Money
    payment_type: str | None
    settled_by: str
    settled_at: dt.datetime
