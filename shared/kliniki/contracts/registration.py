"""The events registration publishes on ``registration.events`` (data version 1)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from kliniki.contracts import Contract
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
    age: int | None = None
    date_of_birth: dt.date | None = None
    phone_number: str | None = None
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
    age: int | None = None
    status: str
    payment_type: str
    payment_status: str
    total_amount: Decimal | None = None
    opened_at: dt.datetime
    completed_at: dt.datetime | None = None
    discharge_notes: str | None = None
    cancellation_reason: str | None = None
    version: int
    changed_fields: list[str] = []


class AppointmentScheduled(ApiModel):
    id: str
    appointment_id: str
    patient_id: str
    patient_name: str
    op_number: str
    visit_id: str | None = None
    appointment_date: dt.date
    appointment_type: str
    clinician_id: str | None = None
    notes: str | None = None
    status: str
    scheduled_by: str
    created_at: dt.datetime
    version: int


CONTRACTS: list[Contract[Any]] = [
    Contract(
        "registration",
        PATIENT_REGISTERED,
        PatientRegistered,
        "a new patient with their first visit",
    ),
    Contract("registration", PATIENT_UPDATED, PatientUpdated, "demographics corrected"),
    Contract("registration", VISIT_OPENED, VisitData, "a returning patient's new visit"),
    Contract("registration", VISIT_UPDATED, VisitData),
    Contract("registration", VISIT_COMPLETED, VisitData, "only after billing's invoice.settled"),
    Contract("registration", APPOINTMENT_SCHEDULED, AppointmentScheduled),
]
