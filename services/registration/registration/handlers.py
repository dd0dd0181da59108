"""Registration's event handlers: the visit's status follows the departments' events."""

from __future__ import annotations

from decimal import Decimal

from kliniki.consumer import EventHandler, Subscription, in_turn
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from registration import board, report, service
from registration.domain import VisitStatus


def _visit_of(event: CloudEvent) -> str | None:
    return event.visitid or event.data.get("visitId")


def _cause(event: CloudEvent) -> str:
    return f"on {event.source.rsplit('/', 1)[-1]} {event.routing_key}"


def to(status: VisitStatus) -> EventHandler:
    async def handler(uow: UnitOfWork, event: CloudEvent) -> None:
        await service.advance_visit(uow, _visit_of(event), event.subject, status, _cause(event))

    return handler


async def on_consultation_completed(uow: UnitOfWork, event: CloudEvent) -> None:
    data = event.data
    if data.get("pendingLabRequests"):
        await to(VisitStatus.WAITING_LAB)(uow, event)
    elif data.get("pendingPrescriptions"):
        await to(VisitStatus.WAITING_PHARMACY)(uow, event)


async def on_invoice_settled(uow: UnitOfWork, event: CloudEvent) -> None:
    """Paid in full: the visit is completed (billing's word on money is final)."""
    await service.visit_paid(
        uow,
        _visit_of(event),
        event.subject,
        total_amount=Decimal(str(event.data["totalAmount"])),
        cause=_cause(event),
    )


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
