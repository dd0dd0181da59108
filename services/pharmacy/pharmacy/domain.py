"""Pharmacy rules, free of FastAPI and SQLAlchemy: what may be dispensed, and by whom."""

from __future__ import annotations

from enum import StrEnum


class PrescriptionStatus(StrEnum):
    READY_FOR_DISPENSING = "READY_FOR_DISPENSING"
    DISPENSED = "DISPENSED"
    CANCELLED = "CANCELLED"


OPEN_STATUSES = frozenset({PrescriptionStatus.READY_FOR_DISPENSING.value})


def check_dispensable(status: str) -> None:
    """Only a prescription waiting at the counter can be dispensed; raises ValueError."""
    if status == PrescriptionStatus.DISPENSED:
        raise ValueError("the prescription was already DISPENSED; it cannot be dispensed twice")
    if status == PrescriptionStatus.CANCELLED:
        raise ValueError("the prescription was CANCELLED by the clinician; do not dispense it")


def check_dispenser(named: str | None, caller: str) -> None:
    """The record says who really dispensed: the signed-in pharmacist, never someone named."""
    if named is not None and named != caller:
        raise ValueError(f"must be you ({caller}): a pharmacist records only their own dispensing")
