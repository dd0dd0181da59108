"""Triage's request and response models (camelCase on the wire)."""

from __future__ import annotations

import contextlib
import datetime as dt
from typing import Any

from pydantic import Field, field_validator, model_validator

from kliniki.contracts.triage import VitalSignsOut
from kliniki.schemas import ApiModel, StrictApiModel
from triage.domain import TriageCategory, TriageColour, colour_of, parse_category


class EncounterUpdate(StrictApiModel):
    """updatePatientEncounter: vital signs as text ('140/90', '38.5°C', '95 bpm', '20/min') or
    numbers ({"value": 38.5, "unit": "°C"}, {"systolic": 140, "diastolic": 90})."""

    vital_signs: dict[str, Any] | None = Field(
        default=None,
        description="bloodPressure, temperature, pulse, respiratoryRate, oxygenSaturation, weight",
    )
    triage_category: TriageCategory | None = Field(
        default=None, description="EMERGENCY, URGENT, NORMAL or a SATS colour (RED, ORANGE, ...)"
    )
    triage_colour: TriageColour | None = Field(
        default=None, description="The SATS colour; taken from triageCategory when not given."
    )
    chief_complaint: str | None = Field(default=None, min_length=1, max_length=2000)
    version: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _colour_from_category(cls, data: Any) -> Any:
        """'ORANGE' as a category keeps its colour; 'URGENT' alone becomes ORANGE."""
        if not isinstance(data, dict):
            return data
        raw = data.get("triageCategory", data.get("triage_category"))
        if isinstance(raw, str) and not (data.get("triageColour") or data.get("triage_colour")):
            with contextlib.suppress(ValueError):
                data = {**data, "triageColour": colour_of(raw).value}
        return data

    @field_validator("triage_category", mode="before")
    @classmethod
    def _category(cls, value: object) -> object:
        return parse_category(value) if isinstance(value, str) else value

    @field_validator("triage_colour", mode="before")
    @classmethod
    def _colour(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value


class EncounterOut(ApiModel):
    id: str
    visit_id: str
    patient_id: str
    status: str
    vital_signs: VitalSignsOut
    triage_category: TriageCategory | None
    triage_colour: TriageColour | None = None
    chief_complaint: str | None
    tews_score: int | None = Field(description="Triage Early Warning Score from the vitals")
    suggested_category: TriageCategory | None
    recorded_by: str | None
    completed_by: str | None
    completed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    version: int
