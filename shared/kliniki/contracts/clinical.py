"""The events clinical publishes on ``clinical.events`` (besides the worklist's), data version 1.

A new record's event carries the record as clinical's API answers it, plus its id under the
record's own name (``diagnosisId``...) for the consumers. What docs/events.md promises is
required; the record's other fields (``id``, ``version``...) come along, optional to consumers.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel

DIAGNOSIS_ADDED = "diagnosis.added"
PRESCRIPTION_CREATED = "prescription.created"
PRESCRIPTION_CANCELLED = "prescription.cancelled"
LAB_REQUEST_CREATED = "lab_request.created"
LAB_REQUEST_CANCELLED = "lab_request.cancelled"
CONSULTATION_COMPLETED = "consultation.completed"


class DiagnosisAdded(ApiModel):
    id: str | None = None
    diagnosis_id: str
    patient_id: str
    visit_id: str
    diagnosis_code: str
    diagnosis_name: str
    status: str
    notes: str | None = None
    diagnosed_by: str
    created_at: dt.datetime
    version: int | None = None


class PrescriptionCreated(ApiModel):
    id: str | None = None
    prescription_id: str
    patient_id: str
    visit_id: str
    medication_name: str
    dosage: str
    frequency: str
    duration: str
    instructions: str | None = None
    status: str | None = None
    priority: str  # URGENT / NORMAL: the pharmacy worklist's lane, from triage's category
    prescribed_by: str
    dispensed_by: str | None = None
    dispensed_at: dt.datetime | None = None
    created_at: dt.datetime
    version: int | None = None

    @property
    def order_id(self) -> str:  # the order's id, whichever kind (kliniki.worklist.orders)
        return self.prescription_id


class LabRequestCreated(ApiModel):
    id: str | None = None
    lab_request_id: str
    patient_id: str
    visit_id: str
    test_type: str
    urgency: str  # URGENT / NORMAL
    notes: str | None = None
    status: str | None = None
    requested_by: str
    results: list[dict[str, Any]] | None = None
    results_critical: bool | None = None
    result_notes: str | None = None
    completed_by: str | None = None
    completed_at: dt.datetime | None = None
    created_at: dt.datetime
    version: int | None = None

    @property
    def order_id(self) -> str:  # the order's id, whichever kind (kliniki.worklist.orders)
        return self.lab_request_id


class PrescriptionCancelled(ApiModel):
    prescription_id: str
    patient_id: str
    visit_id: str
    cancelled_by: str
    reason: str

    @property
    def order_id(self) -> str:  # the order's id, whichever kind (kliniki.worklist.orders)
        return self.prescription_id


class LabRequestCancelled(ApiModel):
    lab_request_id: str
    patient_id: str
    visit_id: str
    cancelled_by: str
    reason: str

    @property
    def order_id(self) -> str:  # the order's id, whichever kind (kliniki.worklist.orders)
        return self.lab_request_id


class ConsultationCompleted(ApiModel):
    patient_id: str
    visit_id: str
    completed_by: str
    completed_at: dt.datetime
    diagnosis_codes: list[str]
    lab_request_ids: list[str]  # not cancelled
    prescription_ids: list[str]  # not cancelled
    pending_lab_requests: int = 0  # still open when the doctor finished
    pending_prescriptions: int = 0


CONTRACTS: list[Contract[Any]] = [
    Contract("clinical", DIAGNOSIS_ADDED, DiagnosisAdded),
    Contract("clinical", PRESCRIPTION_CREATED, PrescriptionCreated),
    Contract("clinical", LAB_REQUEST_CREATED, LabRequestCreated),
    Contract("clinical", PRESCRIPTION_CANCELLED, PrescriptionCancelled),
    Contract("clinical", LAB_REQUEST_CANCELLED, LabRequestCancelled),
    Contract("clinical", CONSULTATION_COMPLETED, ConsultationCompleted),
]
