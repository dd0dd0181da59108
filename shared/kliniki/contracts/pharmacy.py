"""The events the pharmacy publishes on ``pharmacy.events`` (besides the worklist's), v1."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel

PRESCRIPTION_DISPENSED = "prescription.dispensed"


class PrescriptionDispensed(ApiModel):
    """Which prescription, of whom, what and by whom are required; the rest is detail a
    consumer may not rely on."""

    prescription_id: str
    patient_id: str
    visit_id: str
    patient_name: str | None = None
    op_number: str | None = None
    medication_name: str
    dosage: str | None = None
    dispensed_by: str
    dispensed_by_name: str | None = None
    dispensed_at: dt.datetime | None = None
    dispensing_notes: str | None = None
    prescribed_by: str | None = None
    version: int | None = None

    @property
    def order_id(self) -> str:  # the order's id, whichever kind (kliniki.worklist.orders)
        return self.prescription_id


CONTRACTS: list[Contract[Any]] = [
    Contract("pharmacy", PRESCRIPTION_DISPENSED, PrescriptionDispensed)
]
