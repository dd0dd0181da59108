"""What staff see: pure functions from facts to the scenario's frames (no I/O here).

Each returns ``Outgoing`` values: a frame name, its data (the scenario's field names) and
who it is for, one user or every holder of some roles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kliniki.access import Stage, frame_addressees

# Frames that only tell a screen to refresh: delivered and replayed like the others, never
# listed as notifications (GET /notifications) nor shown as one.
SIGNALS = frozenset({"visit_updated"})

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
        roles=frame_addressees("patient_registered"),
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
    return Outgoing("new_assignment", data, roles=frame_addressees("new_assignment", stage))


def patient_updated(
    patient_id: str, updates: dict[str, Any], updated_by: str | None, timestamp: dt.datetime
) -> Outgoing:
    """A patient's clinical record changed: the clinical team sees what and who."""
    return Outgoing(
        "patient_updated",
        {
            "patientId": patient_id,
            "updates": updates,
            "updatedBy": updated_by,
            "timestamp": timestamp.isoformat(),
        },
        roles=frame_addressees("patient_updated"),
    )


def patient_assignment_updated(assignment: dict[str, Any], patient_name: str | None) -> Outgoing:
    """Why a patient is now on a clinician's list: "John Doe triaged as URGENT - chest pain"."""
    return Outgoing(
        "patient_assignment_updated",
        {
            "patientId": assignment["patientId"],
            "message": f"{patient_name or assignment.get('patientName')} {assignment['reason']}",
            "priority": assignment["priority"],
            "assignedTo": assignment["assignedToUserId"],
            "assignmentId": assignment["id"],
        },
        user_id=assignment["assignedToUserId"],
    )


def new_lab_request(data: dict[str, Any]) -> Outgoing:
    return Outgoing(
        "new_lab_request",
        {
            "patientId": data["patientId"],
            "labRequestId": data["labRequestId"],
            "testType": data["testType"],
            "urgency": data["urgency"],
            "requestedBy": data["requestedBy"],
            "notes": data.get("notes"),
        },
        roles=frame_addressees("new_lab_request"),
    )


def lab_results_ready(data: dict[str, Any], patient: str) -> Outgoing:
    """To the clinician who ordered the test; URGENT when a value is critical."""
    critical = [r for r in data.get("results", []) if r.get("critical")]
    findings = ", ".join(f"{r.get('name', r.get('analyte'))} {r.get('text')}" for r in critical)
    urgent = data.get("urgency") == "URGENT"
    message = (
        f"{'URGENT: ' if urgent else ''}{data.get('testName', data['testType'])} results for "
        f"{patient}"
        + (f": critical {findings}" if findings else "")
        + (f". {data['notes']}" if data.get("notes") else "")
    )
    return Outgoing(
        "lab_results_ready",
        {
            "patientId": data["patientId"],
            "labRequestId": data["labRequestId"],
            "results": data.get("results", []),
            "urgency": data.get("urgency", "NORMAL"),
            "message": message,
        },
        user_id=data["requestedBy"],
    )


def prescription_ready(data: dict[str, Any]) -> Outgoing:
    return Outgoing(
        "prescription_ready",
        {
            "patientId": data["patientId"],
            "prescriptionId": data["prescriptionId"],
            "medicationName": data["medicationName"],
            "status": "READY_FOR_DISPENSING",
        },
        roles=frame_addressees("prescription_ready"),
    )


def prescription_updated(data: dict[str, Any], timestamp: dt.datetime) -> Outgoing:
    """All staff see that medication was dispensed (the clinical details only clinical roles)."""
    return Outgoing(
        "prescription_updated",
        {
            "patientId": data["patientId"],
            "prescriptionId": data["prescriptionId"],
            "status": "DISPENSED",
            "dispensedBy": data["dispensedBy"],
            "timestamp": timestamp.isoformat(),
            "medicationName": data.get("medicationName"),
            "dosage": data.get("dosage"),
            "dispensingNotes": data.get("dispensingNotes"),
        },
        roles=frame_addressees("prescription_updated"),
    )


def patient_ready_for_payment(data: dict[str, Any]) -> Outgoing:
    return Outgoing(
        "patient_ready_for_payment",
        {
            "patientId": data["patientId"],
            "visitId": data["visitId"],
            "totalAmount": data["totalAmount"],
            "paymentType": data["paymentType"],
            "services": data.get("services", []),
        },
        roles=frame_addressees("patient_ready_for_payment"),
    )


def describe_duration(start: dt.datetime, end: dt.datetime) -> str:
    """``2 hours 30 minutes``."""
    minutes = max(0, round((end - start).total_seconds() / 60))
    hours, minutes = divmod(minutes, 60)
    parts = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    parts.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(parts)


def visit_completed(
    data: dict[str, Any], completed_by: str | None, recipients: list[str]
) -> list[Outgoing]:
    """To everyone who worked on the visit."""
    opened = dt.datetime.fromisoformat(data["openedAt"])
    completed = (
        dt.datetime.fromisoformat(data["completedAt"])
        if data.get("completedAt")
        else (dt.datetime.now(dt.UTC))
    )
    frame = {
        "patientId": data["patientId"],
        "visitId": data["visitId"],
        "completedBy": completed_by,
        "totalAmount": data.get("totalAmount"),
        "duration": describe_duration(opened, completed),
        "message": f"{data['firstName']} {data['lastName']} visit completed successfully",
        "dischargeNotes": data.get("dischargeNotes"),
    }
    return [Outgoing("visit_completed", frame, user_id=user) for user in recipients]


def follow_up_scheduled(data: dict[str, Any]) -> Outgoing:
    frame = {
        "patientId": data["patientId"],
        "appointmentId": data["appointmentId"],
        "appointmentDate": data["appointmentDate"],
        "appointmentType": data["appointmentType"],
        "notes": data.get("notes"),
    }
    if data.get("clinicianId"):
        return Outgoing("follow_up_scheduled", frame, user_id=data["clinicianId"])
    return Outgoing("follow_up_scheduled", frame, roles=frame_addressees("follow_up_scheduled"))


def wait_time_exceeded(data: dict[str, Any]) -> Outgoing:
    """To the stage's staff and the in-charge: a patient has waited past their target."""
    stage = Stage(data["stage"])
    label = patient_label(data.get("patientName"), data.get("opNumber"))
    minutes, target = data["minutesWaited"], data["targetMinutes"]
    again = " again" if data.get("level", 1) > 1 else ""
    return Outgoing(
        "wait_time_exceeded",
        {
            "patientId": data["patientId"],
            "visitId": data.get("visitId"),
            "stage": stage.value,
            "colour": data.get("colour"),
            "minutesWaited": minutes,
            "targetMinutes": target,
            "level": data.get("level", 1),
            "assignedTo": data.get("assignedToUserId"),
            "priority": "URGENT",
            "message": f"URGENT: {label} has waited{again} {minutes:g} min for "
            f"{STAGE_PURPOSE[stage]} (target {target:g} min)",
        },
        roles=frame_addressees("wait_time_exceeded", stage),
    )


def visit_updated(patient_id: str, visit_id: str) -> Outgoing:
    """To the front desk's visits board: the visit's status, or who has the patient, changed."""
    return Outgoing(
        "visit_updated",
        {"patientId": patient_id, "visitId": visit_id},
        roles=frame_addressees("visit_updated"),
    )
