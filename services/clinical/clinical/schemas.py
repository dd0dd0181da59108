"""Clinical's request and response models (camelCase on the wire)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import Field, field_validator

from clinical.domain import DiagnosisStatus, Urgency, normalize_icd10
from kliniki.schemas import ApiModel, PlainName, StrictApiModel


def _upper(value: object) -> object:
    return value.upper() if isinstance(value, str) else value


class DiagnosisCreate(StrictApiModel):
    diagnosis_code: str = Field(max_length=10, description="ICD-10, e.g. I21.9")
    diagnosis_name: PlainName | None = Field(
        default=None, max_length=300, description="Defaults to the ICD-10 title."
    )
    status: DiagnosisStatus = DiagnosisStatus.ACTIVE
    notes: str | None = Field(default=None, max_length=4000)
    visit_id: str | None = Field(default=None, description="Defaults to the current visit.")

    @field_validator("diagnosis_code")
    @classmethod
    def _code(cls, value: str) -> str:
        return normalize_icd10(value)

    @field_validator("status", mode="before")
    @classmethod
    def _status(cls, value: object) -> object:
        return _upper(value)


class Icd10Code(ApiModel):
    code: str
    description: str


class DiagnosisOut(ApiModel):
    id: str
    patient_id: str
    visit_id: str
    diagnosis_code: str
    diagnosis_name: str
    status: DiagnosisStatus
    notes: str | None
    diagnosed_by: str
    created_at: dt.datetime
    version: int


class PrescriptionCreate(StrictApiModel):
    medication_name: PlainName = Field(min_length=1, max_length=200)
    dosage: PlainName = Field(min_length=1, max_length=100)
    frequency: PlainName = Field(min_length=1, max_length=100)
    duration: PlainName = Field(min_length=1, max_length=100)
    instructions: str | None = Field(default=None, max_length=2000)
    visit_id: str | None = None


class PrescriptionOut(ApiModel):
    id: str
    patient_id: str
    visit_id: str
    medication_name: str
    dosage: str
    frequency: str
    duration: str
    instructions: str | None
    status: str
    prescribed_by: str
    dispensed_by: str | None
    dispensed_at: dt.datetime | None
    created_at: dt.datetime
    version: int


class LabRequestCreate(StrictApiModel):
    test_type: str = Field(min_length=1, max_length=64)
    urgency: Urgency = Urgency.NORMAL
    notes: str | None = Field(default=None, max_length=2000)
    visit_id: str | None = None

    @field_validator("test_type", "urgency", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return _upper(value)


class LabRequestOut(ApiModel):
    id: str
    patient_id: str
    visit_id: str
    test_type: str
    urgency: Urgency
    notes: str | None
    status: str
    requested_by: str
    results: list[dict[str, Any]] | None
    results_critical: bool | None
    result_notes: str | None
    completed_by: str | None
    completed_at: dt.datetime | None
    created_at: dt.datetime
    version: int


class OrderCancel(StrictApiModel):
    status: str = Field(pattern="^CANCELLED$", description="Only CANCELLED: orders are not edited.")
    reason: str = Field(min_length=1, max_length=500)
    version: int | None = None


class TriageFindingsOut(ApiModel):
    encounter_id: str
    triage_category: str | None
    chief_complaint: str | None
    vital_signs: dict[str, Any]
    tews_score: int | None
    recorded_by: str | None
    completed: bool


EARLIER_VISITS = 10


class EarlierVisit(ApiModel):
    """One of the patient's earlier visits: when, and what was diagnosed."""

    visit_id: str
    opened_at: dt.datetime | None
    status: str | None
    diagnoses: list[DiagnosisOut]


class PatientRecord(ApiModel):
    """The doctor's view of a patient's current visit, and the earlier ones in brief."""

    patient_id: str
    op_number: str | None
    full_name: str | None
    gender: str | None
    age: int | None
    visit_id: str | None
    triage: TriageFindingsOut | None
    diagnoses: list[DiagnosisOut]
    prescriptions: list[PrescriptionOut]
    lab_requests: list[LabRequestOut]
    earlier_visits: list[EarlierVisit] = Field(
        default_factory=list, description=f"Newest first, at most {EARLIER_VISITS}"
    )
