"""Worklist rules, free of FastAPI and SQLAlchemy: who gets a new patient, what may change."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kliniki.access import SUPERVISORS
from kliniki.problems import Conflict, Forbidden, InvalidInput


class Priority(StrEnum):
    URGENT = "URGENT"
    NORMAL = "NORMAL"


PRIORITY_RANK = {Priority.URGENT: 0, Priority.NORMAL: 1}


def priority_of(raw: object) -> Priority:
    """The worklist lane of a triage category or an order's urgency: NORMAL only when it says
    NORMAL (or nothing yet); EMERGENCY, URGENT or anything unknown goes first (in doubt, sooner).
    """
    return Priority.NORMAL if str(raw or "NORMAL").upper() == "NORMAL" else Priority.URGENT


class AssignmentStatus(StrEnum):
    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


@dataclass(frozen=True)
class Candidate:
    user_id: str
    name: str
    active_assignments: int


def pick_assignee(on_duty: list[Candidate]) -> Candidate | None:
    """The on-duty member with the fewest active assignments (ties: by user id, stable).

    None means nobody is on duty: the assignment waits in the role's shared queue.
    """
    if not on_duty:
        return None
    return min(on_duty, key=lambda c: (c.active_assignments, c.user_id))


class Change(StrEnum):
    """What a PATCH on an assignment does; also the event's verb (``assignment.<change>``)."""

    CLAIMED = "claimed"
    TRANSFERRED = "transferred"
    RETURNED_TO_QUEUE = "returned_to_queue"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REPRIORITIZED = "reprioritized"


def classify_change(
    current_status: str,
    current_assignee: str | None,
    actor_id: str,
    new_status: str | None,
    new_assignee: str | None,
    assignee_given: bool,
) -> Change:
    """Decide what an update means, refusing what the current state forbids."""
    if current_status != AssignmentStatus.ACTIVE:
        raise Conflict(f"the assignment is already {current_status} and cannot change")
    if new_status == AssignmentStatus.COMPLETED:
        return Change.COMPLETED
    if new_status == AssignmentStatus.CANCELLED:
        return Change.CANCELLED
    if assignee_given:
        if new_assignee is None:
            return Change.RETURNED_TO_QUEUE
        if new_assignee == current_assignee:
            raise InvalidInput("assignedToUserId", f"the assignment is already with {new_assignee}")
        return Change.CLAIMED if new_assignee == actor_id else Change.TRANSFERRED
    return Change.REPRIORITIZED


def check_may_close(
    assignee: str | None, actor_id: str, actor_roles: frozenset[str], change: str
) -> None:
    """Completing or cancelling is for the assignee, the in-charge or an admin."""
    if assignee == actor_id or actor_roles & SUPERVISORS:
        return
    whose = f"{assignee}'s" if assignee else "in the shared queue: claim it first; it is not yours"
    raise Forbidden(
        f"only the assignee, the in-charge or an admin may mark it {change}; this assignment is "
        + (f"{whose} (ask them, or have it transferred to you)" if assignee else whose)
    )
