"""The events the lab publishes on ``lab.events`` (besides the worklist's), data version 1."""

from __future__ import annotations

import datetime as dt

from kliniki.schemas import ApiModel
from lab.schemas import LabResultOut

LAB_REQUEST_UPDATED = "lab_request.updated"  # work started or some results entered
LAB_REQUEST_COMPLETED = "lab_request.completed"  # results reported to the clinician

# Consumed from clinical.events.
LAB_REQUEST_CREATED = "lab_request.created"
LAB_REQUEST_CANCELLED = "lab_request.cancelled"


class LabRequestUpdated(ApiModel):
    """Progress only: results reach clinicians when reported (``lab_request.completed``)."""

    lab_request_id: str
    patient_id: str
    visit_id: str
    test_type: str
    status: str
    changed_fields: list[str]
    updated_by: str
    version: int


class LabRequestCompleted(ApiModel):
    lab_request_id: str
    patient_id: str
    visit_id: str
    patient_name: str
    op_number: str | None
    test_type: str
    test_name: str
    results: list[LabResultOut]
    critical: bool
    urgency: str
    notes: str | None
    requested_by: str
    completed_by: str
    completed_at: dt.datetime
    version: int
