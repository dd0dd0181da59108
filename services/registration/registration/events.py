"""The events registration publishes: their models and routing keys live in
``kliniki.contracts.registration``, where the consumers import them too."""

from __future__ import annotations

from kliniki.contracts.registration import (
    APPOINTMENT_SCHEDULED,
    PATIENT_REGISTERED,
    PATIENT_UPDATED,
    VISIT_COMPLETED,
    VISIT_OPENED,
    VISIT_UPDATED,
    AppointmentScheduled,
    PatientData,
    PatientRegistered,
    PatientUpdated,
    VisitData,
)

__all__ = [
    "APPOINTMENT_SCHEDULED",
    "PATIENT_REGISTERED",
    "PATIENT_UPDATED",
    "VISIT_COMPLETED",
    "VISIT_OPENED",
    "VISIT_UPDATED",
    "AppointmentScheduled",
    "PatientData",
    "PatientRegistered",
    "PatientUpdated",
    "VisitData",
]
