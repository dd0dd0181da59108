"""The events the pharmacy publishes: their models and routing keys
live in ``kliniki.contracts``, where publisher and consumers import them."""

from __future__ import annotations

from kliniki.contracts.pharmacy import PRESCRIPTION_DISPENSED, PrescriptionDispensed

__all__ = [
    "PRESCRIPTION_DISPENSED",
    "PrescriptionDispensed",
]
