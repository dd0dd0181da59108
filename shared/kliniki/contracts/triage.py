"""The events triage publishes on ``triage.events`` (besides the worklist's), data version 1."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel

ENCOUNTER_UPDATED = "encounter.updated"
TRIAGE_COMPLETED = "triage.completed"


class Measured(ApiModel):
    value: float
    unit: str
    text: str


class BloodPressure(ApiModel):
    systolic: float
    diastolic: float
    unit: str = "mmHg"
    text: str


class VitalSignsOut(ApiModel):
    """Each vital sign as number + unit + the text the nurse wrote ('140/90', '38.5°C')."""

    blood_pressure: BloodPressure | None = None
    temperature: Measured | None = None
    pulse: Measured | None = None
    respiratory_rate: Measured | None = None
    oxygen_saturation: Measured | None = None
    weight: Measured | None = None


class EncounterUpdated(ApiModel):
    encounter_id: str
    patient_id: str
    visit_id: str
    vital_signs: VitalSignsOut
    triage_category: str | None = None
    triage_colour: str | None = None
    chief_complaint: str | None = None
    tews_score: int | None = None
    suggested_category: str | None = None
    updated_by: str
    changed_fields: list[str]
    version: int


class TriageCompleted(ApiModel):
    encounter_id: str
    patient_id: str
    visit_id: str
    triage_category: str
    triage_colour: str  # RED / ORANGE / YELLOW / GREEN
    priority: str  # URGENT / NORMAL: the consultation worklist's lane
    chief_complaint: str | None = None
    vital_signs: VitalSignsOut
    completed_by: str
    completed_at: dt.datetime


CONTRACTS: list[Contract[Any]] = [
    Contract("triage", ENCOUNTER_UPDATED, EncounterUpdated),
    Contract("triage", TRIAGE_COMPLETED, TriageCompleted),
]
