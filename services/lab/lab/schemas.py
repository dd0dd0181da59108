"""The lab's request and response models (camelCase on the wire)."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import Field, field_validator

from kliniki.schemas import ApiModel, StrictApiModel
from lab.domain import Flag, LabRequestStatus


class ReferenceRange(ApiModel):
    low: float | None
    high: float | None
    unit: str | None
    critical_low: float | None = None
    critical_high: float | None = None


class LabResultOut(ApiModel):
    """A value in both forms: ``value`` + ``unit`` (2.5, "ng/mL") and ``text`` ("2.5 ng/mL")."""

    analyte: str
    name: str
    value: float | str
    unit: str | None
    text: str
    reference_range: ReferenceRange | None
    flag: Flag
    abnormal: bool
    critical: bool


class LabRequestOut(ApiModel):
    id: str
    patient_id: str
    visit_id: str
    patient_name: str
    op_number: str | None
    test_type: str
    test_name: str
    urgency: str
    order_notes: str | None = Field(description="The clinician's notes with the order.")
    requested_by: str
    requested_at: dt.datetime
    status: LabRequestStatus
    results: list[LabResultOut]
    critical: bool = Field(description="Any value beyond a critical limit.")
    notes: str | None = Field(description="The lab's notes with the results.")
    started_by: str | None
    started_at: dt.datetime | None
    completed_by: str | None
    completed_at: dt.datetime | None
    cancelled_by: str | None
    cancelled_at: dt.datetime | None
    cancel_reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int


class LabRequestUpdate(StrictApiModel):
    """updateLabRequest: start work, enter results (all at once or a few at a time), complete.

    ``results`` maps analytes to values as written ('2.5 ng/mL'), as numbers in the analyte's
    unit, or structured ({"value": 2.5, "unit": "ng/mL"}); qualitative ones as 'POSITIVE'.
    """

    status: Literal["IN_PROGRESS", "COMPLETED"] | None = None
    results: dict[str, Any] | None = Field(default=None, max_length=50)
    notes: str | None = Field(default=None, max_length=4000)
    completed_at: dt.datetime | None = Field(
        default=None,
        description="Accepted as the scenario sends it; the server's clock is what is recorded.",
    )
    version: int | None = Field(default=None, description="Or send If-Match.")

    @field_validator("status", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value


class AnalyteOut(ApiModel):
    key: str
    name: str
    unit: str | None
    reference_range: ReferenceRange | None
    qualitative: list[str] | None = None
    normal: str | None = None


class LabTestOut(ApiModel):
    code: str
    name: str
    analytes: list[AnalyteOut]
