"""What staff see: pure functions from facts to the scenario's frames (no I/O here).

Each returns ``Outgoing`` values: a frame name, its data (the scenario's field names) and
who it is for, one user or every holder of some roles.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from kliniki.access import Stage, frame_addressees
from kliniki.contracts import billing, clinical, lab, pharmacy, registration
from kliniki.contracts.worklist import AssignmentEvent, WaitTimeExceeded
from kliniki.uow import to_json

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


def new_assignment(assignment: AssignmentEvent) -> Outgoing:
    """To the assignee, or to the stage role's shared queue when nobody was on duty."""
    stage = Stage(assignment.assignment_type)
    label = patient_label(assignment.patient_name, assignment.op_number)
    assignee = assignment.assigned_to_user_id
    data = {
        "type": "patient_assignment",
        "title": "New Patient Assigned",
        "message": f"{label} assigned for {STAGE_PURPOSE[stage]}"
        + ("" if assignee else f" (waiting in the {stage.value.lower()} queue)"),
        "patientId": assignment.patient_id,
        "priority": assignment.priority.value,
        "assignmentId": assignment.id,
        "assignmentType": stage.value,
        "visitId": assignment.visit_id,
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


def patient_assignment_updated(
    assignment: AssignmentEvent, assignee: str, reason: str, patient_name: str | None
) -> Outgoing:
    """Why a patient is now on a clinician's list: "John Doe triaged as URGENT - chest pain"."""
    return Outgoing(
        "patient_assignment_updated",
        {
            "patientId": assignment.patient_id,
            "message": f"{patient_name or assignment.patient_name} {reason}",
            "priority": assignment.priority.value,
            "assignedTo": assignee,
            "assignmentId": assignment.id,
        },
        user_id=assignee,
    )


def new_lab_request(data: clinical.LabRequestCreated) -> Outgoing:
    return Outgoing(
        "new_lab_request",
        {
            "patientId": data.patient_id,
            "labRequestId": data.lab_request_id,
            "testType": data.test_type,
            "urgency": data.urgency,
            "requestedBy": data.requested_by,
            "notes": data.notes,
        },
        roles=frame_addressees("new_lab_request"),
    )


def lab_results_ready(data: lab.LabRequestCompleted, patient: str) -> Outgoing:
    """To the clinician who ordered the test; URGENT when a value is critical."""
    critical = [r for r in data.results if r.critical]
    findings = ", ".join(f"{r.name} {r.text}" for r in critical)
    urgent = data.urgency == "URGENT"
    message = (
        f"{'URGENT: ' if urgent else ''}{data.test_name} results for {patient}"
        + (f": critical {findings}" if findings else "")
        + (f". {data.notes}" if data.notes else "")
    )
    return Outgoing(
        "lab_results_ready",
        {
            "patientId": data.patient_id,
            "labRequestId": data.lab_request_id,
            "results": [to_json(result) for result in data.results],
            "urgency": data.urgency,
            "message": message,
        },
        user_id=data.requested_by,
    )


def prescription_ready(data: clinical.PrescriptionCreated) -> Outgoing:
    return Outgoing(
        "prescription_ready",
        {
            "patientId": data.patient_id,
            "prescriptionId": data.prescription_id,
            "medicationName": data.medication_name,
            "status": "READY_FOR_DISPENSING",
        },
        roles=frame_addressees("prescription_ready"),
    )


def prescription_updated(data: pharmacy.PrescriptionDispensed, timestamp: dt.datetime) -> Outgoing:
    """All staff see that medication was dispensed (the clinical details only clinical roles)."""
    return Outgoing(
        "prescription_updated",
        {
            "patientId": data.patient_id,
            "prescriptionId": data.prescription_id,
            "status": "DISPENSED",
            "dispensedBy": data.dispensed_by,
            "timestamp": timestamp.isoformat(),
            "medicationName": data.medication_name,
            "dosage": data.dosage,
            "dispensingNotes": data.dispensing_notes,
        },
        roles=frame_addressees("prescription_updated"),
    )


def patient_ready_for_payment(data: billing.VisitReadyForPayment) -> Outgoing:
    return Outgoing(
        "patient_ready_for_payment",
        {
            "patientId": data.patient_id,
            "visitId": data.visit_id,
            "totalAmount": float(data.total_amount),  # a JSON number, as billing sends it
            "paymentType": data.payment_type,
            "services": data.services,
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
    data: registration.VisitData, completed_by: str | None, recipients: list[str]
) -> list[Outgoing]:
    """To everyone who worked on the visit."""
    completed = data.completed_at or dt.datetime.now(dt.UTC)
    frame = {
        "patientId": data.patient_id,
        "visitId": data.visit_id,
        "completedBy": completed_by,
        "totalAmount": to_json(data.total_amount),  # as registration sends it
        "duration": describe_duration(data.opened_at, completed),
        "message": f"{data.first_name} {data.last_name} visit completed successfully",
        "dischargeNotes": data.discharge_notes,
    }
    return [Outgoing("visit_completed", frame, user_id=user) for user in recipients]


def follow_up_scheduled(data: registration.AppointmentScheduled) -> Outgoing:
    frame = {
        "patientId": data.patient_id,
        "appointmentId": data.appointment_id,
        "appointmentDate": data.appointment_date.isoformat(),
        "appointmentType": data.appointment_type,
        "notes": data.notes,
    }
    if data.clinician_id:
        return Outgoing("follow_up_scheduled", frame, user_id=data.clinician_id)
    return Outgoing("follow_up_scheduled", frame, roles=frame_addressees("follow_up_scheduled"))


def wait_time_exceeded(data: WaitTimeExceeded) -> Outgoing:
    """To the stage's staff and the in-charge: a patient has waited past their target."""
    stage = Stage(data.stage)
    label = patient_label(data.patient_name, data.op_number)
    minutes, target = data.minutes_waited, data.target_minutes
    again = " again" if data.level > 1 else ""
    return Outgoing(
        "wait_time_exceeded",
        {
            "patientId": data.patient_id,
            "visitId": data.visit_id,
            "stage": stage.value,
            "colour": data.colour,
            "minutesWaited": minutes,
            "targetMinutes": target,
            "level": data.level,
            "assignedTo": data.assigned_to_user_id,
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
