"""The pharmacy's request and response models (camelCase on the wire)."""

from __future__ import annotations

import datetime as dt
from typing import Literal

from pydantic import Field, field_validator

from kliniki.schemas import ApiModel, StrictApiModel
from pharmacy.domain import PrescriptionStatus


class PrescriptionOut(ApiModel):
    id: str
    patient_id: str
    visit_id: str
    patient_name: str
    op_number: str | None
    medication_name: str
    dosage: str | None
    frequency: str | None
    duration: str | None
    instructions: str | None
    priority: str
    prescribed_by: str
    prescribed_at: dt.datetime
    status: PrescriptionStatus
    dispensed_by: str | None
    dispensed_by_name: str | None
    dispensed_at: dt.datetime | None
    dispensing_notes: str | None
    cancelled_by: str | None
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class PrescriptionDispense(StrictApiModel):
    """updatePrescription: dispense. The clinical fields (medication, dosage, ...) are the
    prescriber's: naming one here is refused as an unknown field."""

    status: Literal["DISPENSED"]
    dispensed_at: dt.datetime | None = Field(
        default=None,
        description="Accepted as the scenario sends it; the server's clock is what is recorded.",
    )
    dispensed_by: str | None = Field(
        default=None, max_length=64, description="If given, must be you: you are recorded."
    )
    dispensing_notes: str | None = Field(
        default=None, max_length=4000, description="The counselling given to the patient."
    )
    version: int | None = Field(default=None, description="Or send If-Match.")

    @field_validator("status", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
