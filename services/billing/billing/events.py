"""The events billing publishes: their models and routing keys live in
``kliniki.contracts.billing``, where the consumers import them too."""

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

__all__ = [
    "CHARGE_ADDED",
    "INVOICE_SETTLED",
    "PAYMENT_COMPLETED",
    "VISIT_READY_FOR_PAYMENT",
    "ChargeAdded",
    "InvoiceItem",
    "InvoiceSettled",
    "PaymentCompleted",
    "VisitReadyForPayment",
]
