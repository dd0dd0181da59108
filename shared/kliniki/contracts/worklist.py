"""What every department with a worklist publishes on its ``<department>.events``: the
assignments' changes and waits past their target (kliniki.worklist)."""

from __future__ import annotations

from typing import Any

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel
from kliniki.worklist.schemas import AssignmentEvent

DEPARTMENTS = ("triage", "clinical", "lab", "pharmacy", "billing")
ASSIGNMENT_CHANGES = (
    "created",
    "claimed",
    "transferred",
    "returned_to_queue",
    "reprioritized",
    "completed",
    "cancelled",
)
WAIT_TIME_EXCEEDED = "wait_time.exceeded"
__all__ = ["CONTRACTS", "AssignmentEvent", "WaitTimeExceeded"]


class WaitTimeExceeded(ApiModel):
    assignment_id: str
    patient_id: str
    visit_id: str | None = None
    patient_name: str
    op_number: str | None = None
    stage: str
    colour: str | None = None
    minutes_waited: float
    target_minutes: float
    level: int
    assigned_to_user_id: str | None = None


def assignment_key(change: str) -> str:
    return f"assignment.{change}"


CONTRACTS: list[Contract[Any]] = [
    *(
        Contract(department, assignment_key(change), AssignmentEvent)
        for department in DEPARTMENTS
        for change in ASSIGNMENT_CHANGES
    ),
    *(Contract(department, WAIT_TIME_EXCEEDED, WaitTimeExceeded) for department in DEPARTMENTS),
]
