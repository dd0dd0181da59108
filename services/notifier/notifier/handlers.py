"""The notifier's event handlers: keep the visit view, store frames, announce them live.

Stored frames are published as ``notification.created`` on ``notifier.events`` through the
outbox, in the same transaction; every notifier replica hears it and pushes the frames to the
sockets it holds (see ``live.py``).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import insert, select

from kliniki.access import Stage
from kliniki.consumer import RefuseEvent, Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from notifier import frames
from notifier.models import Notification, VisitView

NOTIFICATION_CREATED = "notification.created"
DEPARTMENTS = ("triage", "clinical", "lab", "pharmacy", "billing")


async def store_and_announce(
    uow: UnitOfWork, event: CloudEvent, outgoing: list[frames.Outgoing]
) -> None:
    if not outgoing:
        return
    rows = [
        {
            "event": o.event,
            "data": o.data,
            "recipient_user_id": o.user_id,
            "recipient_roles": list(o.roles) if o.roles else None,
            "patient_id": event.subject,
            "visit_id": event.visitid,
            "source_event_id": event.id,
        }
        for o in outgoing
    ]
    ids = (
        await uow.session.scalars(
            insert(Notification).returning(Notification.id, sort_by_parameter_order=True), rows
        )
    ).all()
    stored = [
        {
            "id": id_,
            "event": row["event"],
            "data": row["data"],
            "recipientUserId": row["recipient_user_id"],
            "recipientRoles": row["recipient_roles"],
            # When the change was made at its source: live delivery measures the latency.
            "writtenAt": event.time.isoformat(),
            "traceparent": uow.traceparent,
        }
        for id_, row in zip(ids, rows, strict=True)
    ]
    await uow.publish(
        NOTIFICATION_CREATED,
        {"notifications": stored},
        subject=event.subject,
        visit_id=event.visitid,
    )


async def _view(uow: UnitOfWork, visit_id: str, patient_id: str) -> VisitView:
    view = await uow.session.get(VisitView, visit_id, with_for_update=True)
    if view is None:
        view = VisitView(visit_id=visit_id, patient_id=patient_id, staff_involved=[])
        uow.session.add(view)
    elif view.patient_id != patient_id:  # never tell staff about one patient under another
        raise RefuseEvent(f"visit {visit_id} is not a visit of patient {patient_id}")
    return view


def _announce_registration(view: VisitView) -> list[frames.Outgoing]:
    """patient_registered needs registration's facts and triage's assignee: whichever event
    comes second sends it, once."""
    if view.registration_announced or not view.triage_assigned or view.registered_by is None:
        return []
    view.registration_announced = True
    return [
        frames.patient_registered(
            patient_id=view.patient_id,
            op_number=view.op_number or "",
            assigned_to=view.triage_assignee,
            registered_by=view.registered_by,
            timestamp=view.registered_at or dt.datetime.now(dt.UTC),
        )
    ]


async def on_patient_registered(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    view = await _view(uow, data["visitId"], data["patientId"])
    view.patient_name = f"{data['firstName']} {data['lastName']}"
    view.op_number = data["opNumber"]
    view.registered_by = data.get("registeredBy") or event.actorid
    view.registered_at = (
        dt.datetime.fromisoformat(data["registeredAt"]) if data.get("registeredAt") else event.time
    )
    view.staff_involved = sorted({*view.staff_involved, view.registered_by or ""} - {""})
    await store_and_announce(uow, event, _announce_registration(view))


async def on_patient_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    views = (
        await uow.session.scalars(
            select(VisitView).where(VisitView.patient_id == data["patientId"])
        )
    ).all()
    for view in views:
        view.patient_name = f"{data['firstName']} {data['lastName']}"
        view.op_number = data["opNumber"]


async def on_assignment(uow: UnitOfWork, event: CloudEvent) -> None:
    """A patient put on (or moved within) a worklist: tell whoever now has them."""
    assignment: dict[str, Any] = event.data
    change = assignment.get("change", "created")
    outgoing: list[frames.Outgoing] = []
    view = None
    if assignment.get("visitId"):
        view = await _view(uow, assignment["visitId"], assignment["patientId"])
        view.patient_name = view.patient_name or assignment.get("patientName")
        view.op_number = view.op_number or assignment.get("opNumber")
        if assignment.get("assignedToUserId"):
            view.staff_involved = sorted({*view.staff_involved, assignment["assignedToUserId"]})
    if view is not None and change == "created" and assignment["assignmentType"] == Stage.TRIAGE:
        if not view.triage_assigned:
            view.triage_assigned = True
            view.triage_assignee = assignment.get("assignedToUserId")
        outgoing.extend(_announce_registration(view))
    if change in ("created", "transferred", "returned_to_queue"):
        outgoing.append(frames.new_assignment(assignment))
    if change != "reprioritized" and assignment.get("visitId"):
        outgoing.append(frames.visit_updated(assignment["patientId"], assignment["visitId"]))
    if (
        assignment["assignmentType"] == Stage.CONSULTATION
        and assignment.get("reason")
        and assignment.get("assignedToUserId")
        and change in ("created", "transferred", "claimed", "reprioritized")
    ):
        name = view.patient_name if view else None
        outgoing.append(frames.patient_assignment_updated(assignment, name))
    await store_and_announce(uow, event, outgoing)


async def on_visit_changed(uow: UnitOfWork, event: CloudEvent) -> None:
    """A visit's status changed, or a department handed the patient on: the board refreshes."""
    data = event.data
    visit_id = event.visitid or data.get("visitId")
    if visit_id and event.subject:
        await store_and_announce(uow, event, [frames.visit_updated(event.subject, visit_id)])


async def _involve(uow: UnitOfWork, event: CloudEvent, *users: str | None) -> VisitView | None:
    """Note who worked on the visit (they hear when it completes)."""
    if not event.visitid or not event.subject:
        return None
    view = await _view(uow, event.visitid, event.subject)
    view.staff_involved = sorted({*view.staff_involved, *(u for u in users if u)})
    return view


def _label(view: VisitView | None) -> str:
    return frames.patient_label(view.patient_name, view.op_number) if view else "the patient"


async def on_encounter_updated(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    await _involve(uow, event, event.actorid)
    updates = {
        key: data[key]
        for key in ("vitalSigns", "triageCategory", "chiefComplaint")
        if key in data.get("changedFields", []) or key in data
    }
    outgoing = [frames.patient_updated(data["patientId"], updates, event.actorid, event.time)]
    await store_and_announce(uow, event, outgoing)


async def on_consultation_record(uow: UnitOfWork, event: CloudEvent) -> None:
    """A diagnosis, prescription or lab order: the record changed; orders reach their department."""
    data = event.data
    await _involve(uow, event, event.actorid)
    key = event.routing_key
    if key == "diagnosis.added":
        updates: dict[str, Any] = {"diagnosis": data}
        outgoing = [frames.patient_updated(data["patientId"], updates, event.actorid, event.time)]
    elif key == "prescription.created":
        updates = {"prescriptions": [data]}
        outgoing = [
            frames.patient_updated(data["patientId"], updates, event.actorid, event.time),
            frames.prescription_ready(data),
        ]
    else:
        updates = {"labRequests": [data]}
        outgoing = [
            frames.patient_updated(data["patientId"], updates, event.actorid, event.time),
            frames.new_lab_request(data),
        ]
    await store_and_announce(uow, event, outgoing)


async def on_lab_completed(uow: UnitOfWork, event: CloudEvent) -> None:
    view = await _involve(uow, event, event.actorid)
    outgoing = [frames.lab_results_ready(event.data, _label(view))]
    await store_and_announce(uow, event, outgoing)


async def on_dispensed(uow: UnitOfWork, event: CloudEvent) -> None:
    await _involve(uow, event, event.actorid)
    await store_and_announce(uow, event, [frames.prescription_updated(event.data, event.time)])


async def on_ready_for_payment(uow: UnitOfWork, event: CloudEvent) -> None:
    await store_and_announce(uow, event, [frames.patient_ready_for_payment(event.data)])


async def on_payment(uow: UnitOfWork, event: CloudEvent) -> None:
    await _involve(uow, event, event.actorid)


async def on_visit_completed(uow: UnitOfWork, event: CloudEvent) -> None:
    view = await _involve(uow, event, event.actorid)
    recipients = view.staff_involved if view else []
    outgoing = frames.visit_completed(event.data, event.actorid, recipients)
    if event.visitid and event.subject:
        outgoing.append(frames.visit_updated(event.subject, event.visitid))
    await store_and_announce(uow, event, outgoing)


async def on_appointment_scheduled(uow: UnitOfWork, event: CloudEvent) -> None:
    await store_and_announce(uow, event, [frames.follow_up_scheduled(event.data)])


async def on_wait_time_exceeded(uow: UnitOfWork, event: CloudEvent) -> None:
    outgoing = [frames.wait_time_exceeded(event.data)]
    if event.data.get("visitId"):  # the board shows the escalation too
        outgoing.append(frames.visit_updated(event.data["patientId"], event.data["visitId"]))
    await store_and_announce(uow, event, outgoing)


def subscriptions() -> list[Subscription]:
    return [
        *(
            Subscription(department, "wait_time.exceeded", on_wait_time_exceeded)
            for department in DEPARTMENTS
        ),
        Subscription("registration", "patient.registered", on_patient_registered),
        Subscription("registration", "patient.updated", on_patient_updated),
        *(
            Subscription(department, f"assignment.{change}", on_assignment)
            for department in DEPARTMENTS
            for change in (
                "created",
                "transferred",
                "returned_to_queue",
                "claimed",
                "reprioritized",
            )
        ),
        *(
            Subscription(department, f"assignment.{change}", on_visit_changed)
            for department in DEPARTMENTS
            for change in ("completed", "cancelled")
        ),
        Subscription("registration", "visit.updated", on_visit_changed),
        Subscription("registration", "visit.opened", on_visit_changed),
        Subscription("triage", "encounter.updated", on_encounter_updated),
        Subscription("clinical", "diagnosis.added", on_consultation_record),
        Subscription("clinical", "prescription.created", on_consultation_record),
        Subscription("clinical", "lab_request.created", on_consultation_record),
        Subscription("lab", "lab_request.completed", on_lab_completed),
        Subscription("pharmacy", "prescription.dispensed", on_dispensed),
        Subscription("billing", "visit.ready_for_payment", on_ready_for_payment),
        Subscription("billing", "payment.completed", on_payment),
        Subscription("registration", "visit.completed", on_visit_completed),
        Subscription("registration", "appointment.scheduled", on_appointment_scheduled),
    ]
