"""Registration's event handlers: the visit's status follows the departments' events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from kliniki.consumer import EventHandler, RefuseEvent, Subscription, in_turn
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from registration import board, events, report
from registration.domain import PaymentStatus, VisitStatus, advances
from registration.models import Visit
from registration.schemas import VisitOut
from registration.service import get_patient, visit_event_data


async def _advance(
    uow: UnitOfWork, event: CloudEvent, new: VisitStatus, **fields: object
) -> Visit | None:
    """Move the visit forward to ``new`` (never backwards), with its event and audit."""
    visit_id = event.visitid or event.data.get("visitId")
    visit = await uow.session.get(Visit, visit_id, with_for_update=True) if visit_id else None
    if visit is not None and event.subject and visit.patient_id != event.subject:
        raise RefuseEvent(f"visit {visit.id} is not a visit of patient {event.subject}")
    if visit is None or not advances(VisitStatus(visit.status), new):
        return None
    before = VisitOut.model_validate(visit)
    visit.status = new.value
    for name, value in fields.items():
        setattr(visit, name, value)
    await uow.session.flush()
    patient = await get_patient(uow.session, visit.patient_id)
    completed = new is VisitStatus.COMPLETED
    await uow.publish(
        events.VISIT_COMPLETED if completed else events.VISIT_UPDATED,
        visit_event_data(visit, patient, ["status", *fields]),
        subject=visit.patient_id,
        visit_id=visit.id,
    )
    await uow.audit(
        "UPDATE",
        "VISIT",
        visit.id,
        before=before,
        after=VisitOut.model_validate(visit),
        details=f"on {event.source.rsplit('/', 1)[-1]} {event.routing_key}",
    )
    return visit


def to(status: VisitStatus) -> EventHandler:
    async def handler(uow: UnitOfWork, event: CloudEvent) -> None:
        await _advance(uow, event, status)

    return handler


async def on_consultation_completed(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    if data.get("pendingLabRequests"):
        await _advance(uow, event, VisitStatus.WAITING_LAB)
    elif data.get("pendingPrescriptions"):
        await _advance(uow, event, VisitStatus.WAITING_PHARMACY)


async def on_invoice_settled(uow: UnitOfWork, event: CloudEvent) -> None:
    """Paid in full: the visit is completed (billing's word on money is final)."""
    data = event.data
    visit = await _advance(
        uow,
        event,
        VisitStatus.COMPLETED,
        payment_status=PaymentStatus.PAID.value,
        total_amount=Decimal(str(data["totalAmount"])),
        completed_at=dt.datetime.now(dt.UTC),
    )
    if visit is None:  # completed already (by the cashier's PATCH): record the payment only
        existing = await uow.session.get(Visit, event.visitid or data["visitId"])
        if existing is not None and existing.payment_status != PaymentStatus.PAID.value:
            existing.payment_status = PaymentStatus.PAID.value
            existing.total_amount = Decimal(str(data["totalAmount"]))


DEPARTMENTS = ("triage", "clinical", "lab", "pharmacy", "billing")


def subscriptions() -> list[Subscription]:
    return [
        Subscription("triage", "encounter.updated", to(VisitStatus.IN_TRIAGE)),
        Subscription(
            "triage",
            "triage.completed",
            in_turn(to(VisitStatus.WAITING_CONSULTATION), report.record_colour),
        ),
        Subscription(
            "clinical",
            "diagnosis.added",
            in_turn(to(VisitStatus.IN_CONSULTATION), report.record_diagnosis),
        ),
        Subscription("clinical", "prescription.created", to(VisitStatus.IN_CONSULTATION)),
        Subscription("clinical", "lab_request.created", to(VisitStatus.IN_CONSULTATION)),
        Subscription("clinical", "consultation.completed", on_consultation_completed),
        Subscription("billing", "visit.ready_for_payment", to(VisitStatus.WAITING_PAYMENT)),
        Subscription("billing", "invoice.settled", on_invoice_settled),
        # The daily report's and the visits board's read model (registration.report, .board).
        Subscription("billing", "payment.completed", report.record_payment),
        *(
            subscription
            for department in DEPARTMENTS
            for subscription in (
                Subscription(
                    department,
                    "assignment.created",
                    in_turn(report.record_arrival, board.record_holder),
                ),
                *(
                    Subscription(department, f"assignment.{change}", board.record_holder)
                    for change in ("claimed", "transferred", "returned_to_queue")
                ),
                Subscription(
                    department,
                    "assignment.completed",
                    in_turn(report.record_handed_on, board.record_holder),
                ),
                Subscription(
                    department,
                    "assignment.cancelled",
                    in_turn(report.record_handed_on, board.record_holder),
                ),
                Subscription(
                    department,
                    "wait_time.exceeded",
                    in_turn(report.record_breach, board.record_escalation),
                ),
            )
        ),
    ]
