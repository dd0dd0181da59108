"""The events triage publishes on ``triage.events`` (besides the worklist's ``assignment.*``)."""

from __future__ import annotations

import datetime as dt

from kliniki.schemas import ApiModel
from triage.schemas import VitalSignsOut

ENCOUNTER_UPDATED = "encounter.updated"
TRIAGE_COMPLETED = "triage.completed"


class EncounterUpdated(ApiModel):
    encounter_id: str
    patient_id: str
    visit_id: str
    vital_signs: VitalSignsOut
    triage_category: str | None
    triage_colour: str | None = None
    chief_complaint: str | None
    tews_score: int | None
    suggested_category: str | None
    updated_by: str
    changed_fields: list[str]
    version: int


class TriageCompleted(ApiModel):
    encounter_id: str
    patient_id: str
    visit_id: str
    triage_category: str
    triage_colour: str
    priority: str
    chief_complaint: str | None
    vital_signs: VitalSignsOut
    completed_by: str
    completed_at: dt.datetime
