"""The events the pharmacy publishes on ``pharmacy.events`` (besides the worklist's), v1."""

from __future__ import annotations

import datetime as dt

from kliniki.schemas import ApiModel

PRESCRIPTION_DISPENSED = "prescription.dispensed"

# Consumed from clinical.events.
PRESCRIPTION_CREATED = "prescription.created"
PRESCRIPTION_CANCELLED = "prescription.cancelled"


class PrescriptionDispensed(ApiModel):
    prescription_id: str
    patient_id: str
    visit_id: str
    patient_name: str
    op_number: str | None
    medication_name: str
    dosage: str | None
    dispensed_by: str
    dispensed_by_name: str | None
    dispensed_at: dt.datetime
    dispensing_notes: str | None
    prescribed_by: str
    version: int
