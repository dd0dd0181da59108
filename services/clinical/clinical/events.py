"""The events clinical publishes on ``clinical.events`` (besides the worklist's)."""

from __future__ import annotations

DIAGNOSIS_ADDED = "diagnosis.added"
PRESCRIPTION_CREATED = "prescription.created"
PRESCRIPTION_CANCELLED = "prescription.cancelled"
LAB_REQUEST_CREATED = "lab_request.created"
LAB_REQUEST_CANCELLED = "lab_request.cancelled"
CONSULTATION_COMPLETED = "consultation.completed"
