"""The events billing publishes, and the ones it consumes: their models and routing keys live
in ``kliniki.contracts``, where publisher and consumers import them."""

from __future__ import annotations

from kliniki.contracts.billing import (
    CHARGE_ADDED,
    INVOICE_SETTLED,
    PAYMENT_COMPLETED,
    VISIT_READY_FOR_PAYMENT,
    ChargeAdded,
    InvoiceItem,
    InvoiceSettled,
    PaymentCompleted,
    VisitReadyForPayment,
)
from kliniki.contracts.clinical import (
    CONSULTATION_COMPLETED,
    LAB_REQUEST_CANCELLED,
    LAB_REQUEST_CREATED,
    PRESCRIPTION_CANCELLED,
    PRESCRIPTION_CREATED,
)
from kliniki.contracts.lab import LAB_REQUEST_COMPLETED
from kliniki.contracts.pharmacy import PRESCRIPTION_DISPENSED
from kliniki.contracts.registration import (
    PATIENT_REGISTERED,
    VISIT_COMPLETED,
    VISIT_OPENED,
    VISIT_UPDATED,
)

__all__ = [
    "CHARGE_ADDED",
    "CONSULTATION_COMPLETED",
    "INVOICE_SETTLED",
    "LAB_REQUEST_CANCELLED",
    "LAB_REQUEST_COMPLETED",
    "LAB_REQUEST_CREATED",
    "PATIENT_REGISTERED",
    "PAYMENT_COMPLETED",
    "PRESCRIPTION_CANCELLED",
    "PRESCRIPTION_CREATED",
    "PRESCRIPTION_DISPENSED",
    "VISIT_COMPLETED",
    "VISIT_OPENED",
    "VISIT_READY_FOR_PAYMENT",
    "VISIT_UPDATED",
    "ChargeAdded",
    "InvoiceItem",
    "InvoiceSettled",
    "PaymentCompleted",
    "VisitReadyForPayment",
]
