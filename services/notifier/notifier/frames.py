"""What staff see: pure functions from facts to the scenario's frames (no I/O here).

Each returns ``Outgoing`` values: a frame name, its data (the scenario's field names) and
who it is for, one user or every holder of some roles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kliniki.access import STAGE_ROLE, Role, Stage

ALL_ROLES = tuple(sorted(r.value for r in Role))

# How a message names what the patient is waiting for, per worklist.
STAGE_PURPOSE = {
    Stage.TRIAGE: "triage",
    Stage.CONSULTATION: "consultation",
    Stage.LAB: "lab tests",
    Stage.PHARMACY: "dispensing",
    Stage.PAYMENT: "payment",
}


@dataclass(frozen=True)
class Outgoing:
    event: str
    data: dict[str, Any]
    user_id: str | None = None
    roles: tuple[str, ...] | None = None


def patient_label(name: str | None, op_number: str | None) -> str:
    """``John Doe (OP#12345)``, the way the scenario's messages name a patient."""
    number = f"OP#{op_number.removeprefix('OP')}" if op_number else "no OP number"
    return f"{name or 'Unknown patient'} ({number})"


def patient_registered(
    *,
    patient_id: str,
    op_number: str,
    assigned_to: str | None,
    registered_by: str,
    timestamp: dt.datetime,
) -> Outgoing:
    """Broadcast to all staff once the patient is registered and on the triage worklist."""
    return Outgoing(
        "patient_registered",
        {
            "patientId": patient_id,
            "opNumber": op_number,
            "assignedTo": assigned_to,
            "registeredBy": registered_by,
            "timestamp": timestamp.isoformat(),
        },
        roles=ALL_ROLES,
    )


def new_assignment(assignment: dict[str, Any]) -> Outgoing:
    """To the assignee, or to the stage role's shared queue when nobody was on duty."""
    stage = Stage(assignment["assignmentType"])
    label = patient_label(assignment.get("patientName"), assignment.get("opNumber"))
    assignee = assignment.get("assignedToUserId")
    data = {
        "type": "patient_assignment",
        "title": "New Patient Assigned",
        "message": f"{label} assigned for {STAGE_PURPOSE[stage]}"
        + ("" if assignee else f" (waiting in the {stage.value.lower()} queue)"),
        "patientId": assignment["patientId"],
        "priority": assignment["priority"],
        "assignmentId": assignment["id"],
        "assignmentType": stage.value,
        "visitId": assignment.get("visitId"),
        "assignedTo": assignee,
    }
    if assignee:
        return Outgoing("new_assignment", data, user_id=assignee)
    return Outgoing("new_assignment", data, roles=(STAGE_ROLE[stage].value,))
