"""Triage rules, free of FastAPI and SQLAlchemy: vital signs, categories, the TEWS suggestion.

Categories follow the South African Triage Scale used in Kenya, mapped onto the scenario's
words: RED is EMERGENCY, ORANGE and YELLOW are URGENT, GREEN is NORMAL. The Triage Early
Warning Score (TEWS) is computed from the vital signs we record (respiratory rate, pulse,
systolic pressure, temperature; mobility, AVPU and trauma are judged by the nurse) and offered
as a suggestion; the nurse's category decides.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kliniki.measurements import MeasurementError, Quantity, parse_quantity, parse_ratio


class TriageCategory(StrEnum):
    EMERGENCY = "EMERGENCY"
    URGENT = "URGENT"
    NORMAL = "NORMAL"


SATS_COLOURS = {
    "RED": TriageCategory.EMERGENCY,
    "ORANGE": TriageCategory.URGENT,
    "YELLOW": TriageCategory.URGENT,
    "GREEN": TriageCategory.NORMAL,
    "ROUTINE": TriageCategory.NORMAL,
    "NON_URGENT": TriageCategory.NORMAL,
}


def parse_category(raw: str) -> TriageCategory:
    key = raw.strip().upper().replace(" ", "_").replace("-", "_")
    if key in TriageCategory.__members__:
        return TriageCategory(key)
    if key in SATS_COLOURS:
        return SATS_COLOURS[key]
    raise ValueError(
        "must be EMERGENCY, URGENT or NORMAL (or a SATS colour: RED, ORANGE, YELLOW, GREEN)"
    )


class TriageColour(StrEnum):
    """The South African Triage Scale colour the nurse chose: it sets how long a patient may
    wait at every later stage (RED immediately, ORANGE 10 min, YELLOW 60, GREEN 240)."""

    RED = "RED"
    ORANGE = "ORANGE"
    YELLOW = "YELLOW"
    GREEN = "GREEN"


# A category given without a colour: the colour with the strictest target of that category.
CATEGORY_COLOUR = {
    TriageCategory.EMERGENCY: TriageColour.RED,
    TriageCategory.URGENT: TriageColour.ORANGE,
    TriageCategory.NORMAL: TriageColour.GREEN,
}


def colour_of(raw: str) -> TriageColour:
    """The SATS colour named by a category as staff write it ('ORANGE', 'urgent', 'Routine')."""
    key = raw.strip().upper().replace(" ", "_").replace("-", "_")
    if key in TriageColour.__members__:
        return TriageColour(key)
    return CATEGORY_COLOUR[parse_category(raw)]


@dataclass(frozen=True)
class VitalSign:
    """One vital sign: where it is stored, its unit, and the physiologically possible range."""

    key: str
    unit: str
    low: float
    high: float


VITAL_SIGNS = {
    "temperature": VitalSign("temperature", "°C", 25.0, 45.0),
    "pulse": VitalSign("pulse", "/min", 20, 300),
    "respiratoryRate": VitalSign("respiratoryRate", "/min", 4, 80),
    "oxygenSaturation": VitalSign("oxygenSaturation", "%", 40, 100),
    "weight": VitalSign("weight", "kg", 0.3, 400),
}
SYSTOLIC = VitalSign("systolic", "mmHg", 40, 300)
DIASTOLIC = VitalSign("diastolic", "mmHg", 20, 200)


@dataclass
class VitalSigns:
    """Parsed vital signs; absent ones are None."""

    systolic: float | None = None
    diastolic: float | None = None
    values: dict[str, float] = field(default_factory=dict)


class VitalSignError(ValueError):
    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(message)
        self.field = field_name


def _in_range(sign: VitalSign, quantity: Quantity, field_name: str) -> float:
    if not sign.low <= quantity.value <= sign.high:
        raise VitalSignError(
            field_name,
            f"{quantity.text} is not possible; expected {sign.low:g} to {sign.high:g} {sign.unit}",
        )
    return quantity.value


def parse_vital_signs(raw: dict[str, Any]) -> VitalSigns:
    """Accept the scenario's text ('140/90', '38.5°C', '95 bpm', '20/min') or numbers."""
    parsed = VitalSigns()
    for name, value in raw.items():
        field_name = f"vitalSigns.{name}"
        if value is None:
            continue
        try:
            if name == "bloodPressure":
                systolic, diastolic = parse_ratio(value, "mmHg")
                parsed.systolic = _in_range(SYSTOLIC, systolic, field_name)
                parsed.diastolic = _in_range(DIASTOLIC, diastolic, field_name)
                if parsed.diastolic >= parsed.systolic:
                    raise VitalSignError(field_name, "diastolic must be lower than systolic")
            elif name in VITAL_SIGNS:
                sign = VITAL_SIGNS[name]
                parsed.values[name] = _in_range(sign, parse_quantity(value, sign.unit), field_name)
            else:
                known = ", ".join(["bloodPressure", *VITAL_SIGNS])
                raise VitalSignError(field_name, f"unknown vital sign; known: {known}")
        except MeasurementError as exc:
            raise VitalSignError(field_name, str(exc)) from exc
    return parsed


def _band(value: float | None, bands: list[tuple[float, int]], above: int) -> int:
    """Score of ``value`` in TEWS bands: the first (upper bound, score) it falls under."""
    if value is None:
        return 0
    for upper, score in bands:
        if value < upper:
            return score
    return above


def tews_score(
    respiratory_rate: float | None,
    pulse: float | None,
    systolic: float | None,
    temperature: float | None,
) -> int:
    """The adult TEWS from the recorded vital signs (SATS 2012 bands)."""
    return (
        _band(respiratory_rate, [(9, 3), (15, 0), (21, 1), (30, 2)], 3)
        + _band(pulse, [(41, 3), (51, 1), (101, 0), (111, 1), (130, 2)], 3)
        + _band(systolic, [(71, 3), (81, 2), (101, 1), (200, 0)], 2)
        + _band(temperature, [(35, 2), (38.5, 0)], 2)
    )


def suggested_category(score: int) -> TriageCategory:
    """SATS: TEWS 7+ RED, 5-6 ORANGE, 3-4 YELLOW, 0-2 GREEN."""
    if score >= 7:
        return TriageCategory.EMERGENCY
    if score >= 3:
        return TriageCategory.URGENT
    return TriageCategory.NORMAL
