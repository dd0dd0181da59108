"""The events registration publishes on ``registration.events`` (data of version 1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kliniki.schemas import ApiModel

PATIENT_REGISTERED = "patient.registered"  # a new patient, with their first visit
PATIENT_UPDATED = "patient.updated"  # demographics corrected
VISIT_OPENED = "visit.opened"  # a returning patient's new visit
VISIT_UPDATED = "visit.updated"
VISIT_COMPLETED = "visit.completed"
APPOINTMENT_SCHEDULED = "appointment.scheduled"


class PatientData(ApiModel):
    """Demographics every department keeps a copy of (event-carried state transfer)."""

    patient_id: str
    op_number: str
    first_name: str
    last_name: str
    gender: str
    age: int | None
    date_of_birth: dt.date | None
    phone_number: str | None
    insurance_type: str
    version: int


class PatientRegistered(PatientData):
    visit_id: str
    registered_by: str
    registered_at: dt.datetime


class PatientUpdated(PatientData):
    changed_fields: list[str]
    updated_by: str


class VisitData(ApiModel):
    visit_id: str
    patient_id: str
    op_number: str
    first_name: str
    last_name: str
    gender: str
    age: int | None
    status: str
    payment_type: str
    payment_status: str
    total_amount: Decimal | None
    opened_at: dt.datetime
    completed_at: dt.datetime | None
    discharge_notes: str | None
    cancellation_reason: str | None = None
    version: int
    changed_fields: list[str] = []
