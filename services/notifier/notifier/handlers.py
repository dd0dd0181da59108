"""The notifier's event handlers: keep the visit view, store frames, announce them live.

Stored frames are published as ``notification.created`` on ``notifier.events`` through the
outbox, in the same transaction; every notifier replica hears it and pushes the frames to the
sockets it holds (see ``live.py``).
"""

from __future__ import annotations

import datetime as dt
import functools
from typing import Protocol

from sqlalchemy import insert, select

from kliniki.access import Stage
from kliniki.consumer import RefuseEvent, Subscription
from kliniki.contracts import Handlers, billing, clinical, lab, pharmacy, registration, triage
from kliniki.contracts.notifier import (
    NOTIFICATION_CREATED,
    NotificationCreated,
    StoredNotification,
)
from kliniki.contracts.worklist import (
    DEPARTMENTS,
    WAIT_TIME_EXCEEDED,
    AssignmentEvent,
    WaitTimeExceeded,
    assignment_key,
)
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork, to_json
from notifier import frames
from notifier.models import Notification, VisitView

handles = Handlers()
# ``Session.info`` key: this replica's live delivery (``NotificationTail.offer``), see live.py.
LIVE_OFFER = "notifier.live_offer"


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
            insert(Notification)
            .returning(Notification.id, sort_by_parameter_order=True)
            # NULLs written, not left out: every row has the same columns, so all of them
            # go in one statement (left out, a frame for a user and one for a role differ).
            .execution_options(render_nulls=True),
            rows,
        )
    ).all()
    stored = [
        StoredNotification(
            id=id_,
            event=row["event"],
            data=row["data"],
            recipient_user_id=row["recipient_user_id"],
            recipient_roles=row["recipient_roles"],
            # When the change was made at its source: live delivery measures the latency.
            written_at=event.time.isoformat(),
            traceparent=uow.traceparent,
        )
        for id_, row in zip(ids, rows, strict=True)
    ]
    announcement = await uow.publish(
        NOTIFICATION_CREATED,
        NotificationCreated(notifications=stored),
        subject=event.subject,
        visit_id=event.visitid,
    )
    # This replica's own sockets get the frames right after the commit, not a relay and a
    # broker round trip later (the announcement then finds them delivered); the others'
    # sockets get them from the announcement.
    offer = uow.session.info.get(LIVE_OFFER)
    if offer is not None:
        uow.after_commit(functools.partial(offer, announcement.id, [to_json(n) for n in stored]))


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


@handles("registration", registration.PATIENT_REGISTERED)
async def on_patient_registered(
    uow: UnitOfWork, event: CloudEvent, data: registration.PatientRegistered
) -> None:
    view = await _view(uow, data.visit_id, data.patient_id)
    view.patient_name = f"{data.first_name} {data.last_name}"
    view.op_number = data.op_number
    view.registered_by = data.registered_by or event.actorid
    view.registered_at = data.registered_at
    view.staff_involved = sorted({*view.staff_involved, view.registered_by or ""} - {""})
    await store_and_announce(uow, event, _announce_registration(view))


@handles("registration", registration.PATIENT_UPDATED)
async def on_patient_updated(
    uow: UnitOfWork, event: CloudEvent, data: registration.PatientUpdated
) -> None:
    views = (
        await uow.session.scalars(select(VisitView).where(VisitView.patient_id == data.patient_id))
    ).all()
    for view in views:
        view.patient_name = f"{data.first_name} {data.last_name}"
        view.op_number = data.op_number


async def on_assignment(uow: UnitOfWork, event: CloudEvent, assignment: AssignmentEvent) -> None:
    """A patient put on (or moved within) a worklist: tell whoever now has them."""
    change = assignment.change
    assignee = assignment.assigned_to_user_id
    outgoing: list[frames.Outgoing] = []
    view = None
    if assignment.visit_id:
        view = await _view(uow, assignment.visit_id, assignment.patient_id)
        view.patient_name = view.patient_name or assignment.patient_name
        view.op_number = view.op_number or assignment.op_number
        if assignee:
            view.staff_involved = sorted({*view.staff_involved, assignee})
    if view is not None and change == "created" and assignment.assignment_type == Stage.TRIAGE:
        if not view.triage_assigned:
            view.triage_assigned = True
            view.triage_assignee = assignee
        outgoing.extend(_announce_registration(view))
    if change in ("created", "transferred", "returned_to_queue"):
        outgoing.append(frames.new_assignment(assignment))
    if change != "reprioritized" and assignment.visit_id:
        outgoing.append(frames.visit_updated(assignment.patient_id, assignment.visit_id))
    if (
        assignment.assignment_type == Stage.CONSULTATION
        and assignment.reason
        and assignee
        and change in ("created", "transferred", "claimed", "reprioritized")
    ):
        name = view.patient_name if view else None
        outgoing.append(
            frames.patient_assignment_updated(assignment, assignee, assignment.reason, name)
        )
    await store_and_announce(uow, event, outgoing)


class OfAVisit(Protocol):
    """Data of an event about one visit (or, for a worklist's assignment, none)."""

    @property
    def visit_id(self) -> str | None: ...


@handles("registration", registration.VISIT_UPDATED, registration.VISIT_OPENED)
async def on_visit_changed(uow: UnitOfWork, event: CloudEvent, data: OfAVisit) -> None:
    """A visit's status changed, or a department handed the patient on: the board refreshes."""
    visit_id = event.visitid or data.visit_id
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


@handles("triage", triage.ENCOUNTER_UPDATED)
async def on_encounter_updated(
    uow: UnitOfWork, event: CloudEvent, data: triage.EncounterUpdated
) -> None:
    await _involve(uow, event, event.actorid)
    updates = {
        "vitalSigns": to_json(data.vital_signs),
        "triageCategory": data.triage_category,
        "chiefComplaint": data.chief_complaint,
    }
    outgoing = [frames.patient_updated(data.patient_id, updates, event.actorid, event.time)]
    await store_and_announce(uow, event, outgoing)


@handles(
    "clinical",
    clinical.DIAGNOSIS_ADDED,
    clinical.PRESCRIPTION_CREATED,
    clinical.LAB_REQUEST_CREATED,
)
async def on_consultation_record(
    uow: UnitOfWork,
    event: CloudEvent,
    data: clinical.DiagnosisAdded | clinical.PrescriptionCreated | clinical.LabRequestCreated,
) -> None:
    """A diagnosis, prescription or lab order: the record changed; orders reach their department."""
    await _involve(uow, event, event.actorid)
    record = to_json(data)
    if isinstance(data, clinical.DiagnosisAdded):
        updates = {"diagnosis": record}
        ordered = []
    elif isinstance(data, clinical.PrescriptionCreated):
        updates = {"prescriptions": [record]}
        ordered = [frames.prescription_ready(data)]
    else:
        updates = {"labRequests": [record]}
        ordered = [frames.new_lab_request(data)]
    changed = frames.patient_updated(data.patient_id, updates, event.actorid, event.time)
    await store_and_announce(uow, event, [changed, *ordered])


@handles("lab", lab.LAB_REQUEST_COMPLETED)
async def on_lab_completed(
    uow: UnitOfWork, event: CloudEvent, data: lab.LabRequestCompleted
) -> None:
    view = await _involve(uow, event, event.actorid)
    await store_and_announce(uow, event, [frames.lab_results_ready(data, _label(view))])


@handles("pharmacy", pharmacy.PRESCRIPTION_DISPENSED)
async def on_dispensed(
    uow: UnitOfWork, event: CloudEvent, data: pharmacy.PrescriptionDispensed
) -> None:
    await _involve(uow, event, event.actorid)
    await store_and_announce(uow, event, [frames.prescription_updated(data, event.time)])


@handles("billing", billing.VISIT_READY_FOR_PAYMENT)
async def on_ready_for_payment(
    uow: UnitOfWork, event: CloudEvent, data: billing.VisitReadyForPayment
) -> None:
    await store_and_announce(uow, event, [frames.patient_ready_for_payment(data)])


@handles("billing", billing.PAYMENT_COMPLETED)
async def on_payment(uow: UnitOfWork, event: CloudEvent, data: billing.PaymentCompleted) -> None:
    await _involve(uow, event, event.actorid)


@handles("registration", registration.VISIT_COMPLETED)
async def on_visit_completed(
    uow: UnitOfWork, event: CloudEvent, data: registration.VisitData
) -> None:
    view = await _involve(uow, event, event.actorid)
    recipients = view.staff_involved if view else []
    outgoing = frames.visit_completed(data, event.actorid, recipients)
    if event.visitid and event.subject:
        outgoing.append(frames.visit_updated(event.subject, event.visitid))
    await store_and_announce(uow, event, outgoing)


@handles("registration", registration.APPOINTMENT_SCHEDULED)
async def on_appointment_scheduled(
    uow: UnitOfWork, event: CloudEvent, data: registration.AppointmentScheduled
) -> None:
    await store_and_announce(uow, event, [frames.follow_up_scheduled(data)])


async def on_wait_time_exceeded(uow: UnitOfWork, event: CloudEvent, data: WaitTimeExceeded) -> None:
    outgoing = [frames.wait_time_exceeded(data)]
    if data.visit_id:  # the board shows the escalation too
        outgoing.append(frames.visit_updated(data.patient_id, data.visit_id))
    await store_and_announce(uow, event, outgoing)


# Every department's worklist: who has a patient now, who handed them on, who waits too long.
for department in DEPARTMENTS:
    handles(department, WAIT_TIME_EXCEEDED)(on_wait_time_exceeded)
    moved = ("created", "transferred", "returned_to_queue", "claimed", "reprioritized")
    handles(department, *map(assignment_key, moved))(on_assignment)
    handles(department, assignment_key("completed"), assignment_key("cancelled"))(on_visit_changed)


def subscriptions() -> list[Subscription]:
    return handles.subscriptions()
