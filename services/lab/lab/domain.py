"""Lab rules, free of FastAPI and SQLAlchemy: the catalogue, reading results, flagging them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from kliniki.measurements import MeasurementError, parse_quantity


class LabRequestStatus(StrEnum):
    REQUESTED = "REQUESTED"
    IN_PROGRESS = "IN_PROGRESS"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


OPEN_STATUSES = frozenset({LabRequestStatus.REQUESTED.value, LabRequestStatus.IN_PROGRESS.value})


class Flag(StrEnum):
    NORMAL = "NORMAL"
    LOW = "LOW"
    HIGH = "HIGH"
    CRITICAL_LOW = "CRITICAL_LOW"
    CRITICAL_HIGH = "CRITICAL_HIGH"
    ABNORMAL = "ABNORMAL"  # a qualitative result other than the normal one (malaria POSITIVE)


CRITICAL_FLAGS = frozenset({Flag.CRITICAL_LOW, Flag.CRITICAL_HIGH})


class CatalogueError(ValueError):
    """The catalogue file is malformed; the service refuses to start rather than misflag."""


@dataclass(frozen=True)
class Reading:
    """One analyte's result, as entered and as judged against the catalogue."""

    analyte: str
    name: str
    value: float | str
    unit: str | None
    text: str
    flag: Flag
    # The ranges it was judged against: kept with the result, since a clinic may edit the
    # catalogue later and an old report must still say what "HIGH" meant when it was issued.
    low: float | None = None
    high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None

    @property
    def abnormal(self) -> bool:
        return self.flag is not Flag.NORMAL

    @property
    def critical(self) -> bool:
        return self.flag in CRITICAL_FLAGS


@dataclass(frozen=True)
class Analyte:
    key: str  # as clinicians write it in results: troponinI
    name: str
    unit: str | None = None
    low: float | None = None
    high: float | None = None
    critical_low: float | None = None
    critical_high: float | None = None
    qualitative: tuple[str, ...] = ()  # the possible answers of a qualitative test
    normal: str | None = None

    def flag(self, value: float) -> Flag:
        """Critical limits first, then the reference range; a value on a limit is within it."""
        if self.critical_low is not None and value < self.critical_low:
            return Flag.CRITICAL_LOW
        if self.critical_high is not None and value > self.critical_high:
            return Flag.CRITICAL_HIGH
        if self.low is not None and value < self.low:
            return Flag.LOW
        if self.high is not None and value > self.high:
            return Flag.HIGH
        return Flag.NORMAL

    def read(self, raw: Any) -> Reading:
        """``'2.5 ng/mL'``, ``2.5``, ``{"value": 2.5, "unit": "ng/mL"}`` or ``'POSITIVE'``."""
        if self.qualitative:
            return self._read_qualitative(raw)
        assert self.unit is not None, "a quantitative analyte has a unit (checked at load)"
        try:
            quantity = parse_quantity(raw, self.unit)
        except MeasurementError as exc:
            raise ValueError(str(exc)) from exc
        if not math.isfinite(quantity.value):
            raise ValueError(f"expected a finite number in {self.unit}")
        if quantity.value < 0:
            raise ValueError(f"must not be negative (got {quantity.text})")
        return Reading(
            analyte=self.key,
            name=self.name,
            value=quantity.value,
            unit=quantity.unit,
            text=quantity.text,
            flag=self.flag(quantity.value),
            low=self.low,
            high=self.high,
            critical_low=self.critical_low,
            critical_high=self.critical_high,
        )

    def _read_qualitative(self, raw: Any) -> Reading:
        answer = raw.get("value") if isinstance(raw, dict) else raw
        choices = ", ".join(self.qualitative)
        if not isinstance(answer, str):
            raise ValueError(f"expected one of {choices}")
        matched = next((c for c in self.qualitative if c.lower() == answer.strip().lower()), None)
        if matched is None:
            raise ValueError(f"{answer!r} is not one of {choices}")
        flag = Flag.NORMAL if matched == self.normal else Flag.ABNORMAL
        return Reading(self.key, self.name, matched, None, matched, flag)


@dataclass(frozen=True)
class LabTest:
    code: str
    name: str
    analytes: dict[str, Analyte] = field(default_factory=dict)

    def read_results(
        self, raw: Mapping[str, Any]
    ) -> tuple[dict[str, Reading], list[tuple[str, str]]]:
        """The readings, and (``results.<analyte>``, why) for each value refused."""
        readings: dict[str, Reading] = {}
        errors: list[tuple[str, str]] = []
        for key, value in raw.items():
            analyte = self.analytes.get(key)
            if analyte is None:
                errors.append(
                    (
                        f"results.{key}",
                        f"{self.code} has no analyte {key!r}; "
                        f"its analytes are {', '.join(self.analytes)}",
                    )
                )
                continue
            try:
                readings[key] = analyte.read(value)
            except ValueError as exc:
                errors.append((f"results.{key}", str(exc)))
        return readings, errors

    def missing(self, entered: Iterable[str]) -> list[str]:
        """Analytes without a result: a request is complete only when none are missing."""
        have = set(entered)
        return [key for key in self.analytes if key not in have]

    def position(self, analyte: str) -> int:
        """Results are reported in catalogue order."""
        return list(self.analytes).index(analyte)


@dataclass(frozen=True)
class Catalogue:
    tests: dict[str, LabTest]

    @classmethod
    def from_file(cls, path: Path) -> Catalogue:
        return cls.from_mapping(yaml.safe_load(path.read_text()) or {})

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> Catalogue:
        tests: dict[str, LabTest] = {}
        for code, spec in (data.get("tests") or {}).items():
            analytes = {
                key: _analyte(code, key, a) for key, a in (spec.get("analytes") or {}).items()
            }
            if not analytes:
                raise CatalogueError(f"lab test {code} lists no analytes")
            tests[code] = LabTest(code, spec.get("name", code), analytes)
        return cls(tests)

    def get(self, code: str) -> LabTest | None:
        return self.tests.get(code)


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


def _analyte(test: str, key: str, spec: Mapping[str, Any]) -> Analyte:
    if spec.get("qualitative"):
        choices = tuple(str(c) for c in spec["qualitative"])
        if spec.get("normal") not in choices:
            raise CatalogueError(f"{test}.{key}: 'normal' must be one of {choices}")
        return Analyte(key, spec.get("name", key), qualitative=choices, normal=spec["normal"])
    if not spec.get("unit"):
        raise CatalogueError(f"{test}.{key}: a quantitative analyte needs a unit")
    return Analyte(
        key,
        spec.get("name", key),
        unit=spec["unit"],
        low=_number(spec.get("low")),
        high=_number(spec.get("high")),
        critical_low=_number(spec.get("criticalLow")),
        critical_high=_number(spec.get("criticalHigh")),
    )


def reported_urgency(ordered: str, critical: bool) -> str:
    """URGENT when ordered so, or when any value is critical (the clinician must act now)."""
    return "URGENT" if ordered == "URGENT" or critical else "NORMAL"


def check_status_change(current: str, new: str | None) -> None:
    """A finished request (completed or cancelled) no longer changes; raises ValueError."""
    if current == LabRequestStatus.COMPLETED:
        raise ValueError("the lab request is already COMPLETED; its results were reported")
    if current == LabRequestStatus.CANCELLED:
        raise ValueError("the lab request was CANCELLED by the clinician")
    if new == LabRequestStatus.REQUESTED:
        raise ValueError("a lab request cannot go back to REQUESTED")
