"""The events the pharmacy publishes, and the ones it consumes from clinical: their models and
routing keys live in ``kliniki.contracts``, where publisher and consumers import them."""

from __future__ import annotations

from kliniki.contracts.clinical import PRESCRIPTION_CANCELLED, PRESCRIPTION_CREATED
from kliniki.contracts.pharmacy import PRESCRIPTION_DISPENSED, PrescriptionDispensed

__all__ = [
    "PRESCRIPTION_CANCELLED",
    "PRESCRIPTION_CREATED",
    "PRESCRIPTION_DISPENSED",
    "PrescriptionDispensed",
]
