"""Numbers with units as staff type them: ``'38.5°C'``, ``'95 bpm'``, ``'140/90'``, ``'2.5 ng/mL'``.

Clinical input arrives as text (the scenario's payloads) or as structured numbers
(``{"value": 38.5, "unit": "°C"}``); both become a :class:`Quantity` with a canonical unit and
are answered in both forms. Rules about which values are possible live with each service.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

# A unit may itself start with a digit when a space sets it apart: '5.2 10^9/L'.
_NUMBER_WITH_UNIT = re.compile(r"^\s*(-?\d+(?:[.,]\d+)?)\s*((?:[^\d\s]|(?<=\s)\d).*?)?\s*$")
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*/\s*(\d+(?:\.\d+)?)\s*([a-zA-Z].*?)?\s*$")

# Spellings staff use -> the unit we store. Keys are lower-case.
UNIT_ALIASES: dict[str, str] = {
    "°c": "°C",
    "c": "°C",
    "ºc": "°C",
    "deg c": "°C",
    "celsius": "°C",
    "bpm": "/min",
    "/min": "/min",
    "per min": "/min",
    "beats/min": "/min",
    "breaths/min": "/min",
    "/minute": "/min",
    "%": "%",
    "kg": "kg",
    "cm": "cm",
    "mmhg": "mmHg",
    # Cell counts, as analysers and hand-written reports spell them.
    "10^9/l": "10^9/L",
    "x10^9/l": "10^9/L",
    "\u00d710^9/l": "10^9/L",  # the multiplication sign
    "10*9/l": "10^9/L",
    "iu/l": "U/L",  # enzyme activity: international units are units
}


class MeasurementError(ValueError):
    """The text is not a number with an acceptable unit; the message says what was expected."""


@dataclass(frozen=True)
class Quantity:
    value: float
    unit: str

    @property
    def text(self) -> str:
        number = f"{self.value:g}"
        attached = self.unit in ("°C", "%", "/min")  # written without a space: 38.5°C, 20/min
        return f"{number}{self.unit}" if attached else f"{number} {self.unit}"

    def as_dict(self) -> dict[str, Any]:
        return {"value": self.value, "unit": self.unit, "text": self.text}


def canonical_unit(unit: str) -> str:
    return UNIT_ALIASES.get(unit.strip().lower(), unit.strip())


def parse_quantity(raw: Any, expected_unit: str) -> Quantity:
    """``'95 bpm'``, ``95``, ``{"value": 95, "unit": "/min"}`` -> Quantity(95, '/min').

    A bare number is taken in ``expected_unit``; any other unit than the expected one (after
    aliases, case-insensitively) is refused rather than guessed at.
    """
    if isinstance(raw, bool):
        raise MeasurementError(f"expected a number in {expected_unit}")
    if isinstance(raw, int | float):
        return Quantity(float(raw), expected_unit)
    if isinstance(raw, dict):
        value, unit = raw.get("value"), raw.get("unit") or expected_unit
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise MeasurementError(f"expected {{value: <number>, unit: {expected_unit!r}}}")
        return _checked(float(value), str(unit), expected_unit)
    if not isinstance(raw, str):
        raise MeasurementError(f"expected a number in {expected_unit}, e.g. '12 {expected_unit}'")
    match = _NUMBER_WITH_UNIT.match(raw)
    if not match:
        raise MeasurementError(f"{raw!r} is not a number in {expected_unit}")
    number, unit = match.groups()
    return _checked(float(number.replace(",", ".")), unit or expected_unit, expected_unit)


def parse_ratio(raw: Any, expected_unit: str) -> tuple[Quantity, Quantity]:
    """``'140/90'`` or ``'140/90 mmHg'`` or ``{"systolic": 140, "diastolic": 90}``."""
    if isinstance(raw, dict):
        try:
            first, second = raw["systolic"], raw["diastolic"]
        except KeyError as exc:
            raise MeasurementError("expected {systolic: <number>, diastolic: <number>}") from exc
        return parse_quantity(first, expected_unit), parse_quantity(second, expected_unit)
    if not isinstance(raw, str) or not (match := _RATIO.match(raw)):
        raise MeasurementError(f"expected two numbers like '140/90' in {expected_unit}")
    first, second, unit = match.groups()
    unit = unit or expected_unit
    return _checked(float(first), unit, expected_unit), _checked(float(second), unit, expected_unit)


def _checked(value: float, unit: str, expected_unit: str) -> Quantity:
    canonical = canonical_unit(unit)
    if canonical.lower() != canonical_unit(expected_unit).lower():
        raise MeasurementError(f"unit {unit!r} is not accepted here; use {expected_unit}")
    return Quantity(value, canonical_unit(expected_unit))
