"""The events clinical publishes (besides the worklist's): their models and routing keys live
in ``kliniki.contracts.clinical``, where the consumers import them too."""

from __future__ import annotations

from kliniki.contracts.clinical import (
    CONSULTATION_COMPLETED,
    DIAGNOSIS_ADDED,
    LAB_REQUEST_CANCELLED,
    LAB_REQUEST_CREATED,
    PRESCRIPTION_CANCELLED,
    PRESCRIPTION_CREATED,
    ConsultationCompleted,
    DiagnosisAdded,
    LabRequestCancelled,
    LabRequestCreated,
    PrescriptionCancelled,
    PrescriptionCreated,
)

__all__ = [
    "CONSULTATION_COMPLETED",
    "DIAGNOSIS_ADDED",
    "LAB_REQUEST_CANCELLED",
    "LAB_REQUEST_CREATED",
    "PRESCRIPTION_CANCELLED",
    "PRESCRIPTION_CREATED",
    "ConsultationCompleted",
    "DiagnosisAdded",
    "LabRequestCancelled",
    "LabRequestCreated",
    "PrescriptionCancelled",
    "PrescriptionCreated",
]
