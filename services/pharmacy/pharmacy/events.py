"""The events the pharmacy publishes (besides the worklist's): their models and routing keys
live in ``kliniki.contracts.pharmacy``, where the consumers import them too."""

from __future__ import annotations

from kliniki.contracts.pharmacy import PRESCRIPTION_DISPENSED, PrescriptionDispensed

__all__ = [
    "PRESCRIPTION_DISPENSED",
    "PrescriptionDispensed",
]
