"""Registration's event handlers: the visit's status follows the departments' events.

Each handler receives its event's data parsed into the model in kliniki.contracts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from kliniki.consumer import Subscription
from kliniki.contracts import Handlers, billing, clinical, triage
from kliniki.contracts.worklist import (
    DEPARTMENTS,
    WAIT_TIME_EXCEEDED,
    assignment_key,
)
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from registration import board, report, service
from registration.domain import VisitStatus


class OfAVisit(Protocol):
    """Data of an event about one visit."""

    @property
    def visit_id(self) -> str: ...


def _cause(event: CloudEvent) -> str:
    return f"on {event.source.rsplit('/', 1)[-1]} {event.routing_key}"


def to(status: VisitStatus) -> Callable[[UnitOfWork, CloudEvent, OfAVisit], Awaitable[None]]:
    async def handler(uow: UnitOfWork, event: CloudEvent, data: OfAVisit) -> None:
        visit_id = event.visitid or data.visit_id
        await service.advance_visit(uow, visit_id, event.subject, status, _cause(event))

    return handler


async def on_consultation_completed(
    uow: UnitOfWork, event: CloudEvent, data: clinical.ConsultationCompleted
) -> None:
    if data.pending_lab_requests:
        await to(VisitStatus.WAITING_LAB)(uow, event, data)
    elif data.pending_prescriptions:
        await to(VisitStatus.WAITING_PHARMACY)(uow, event, data)


async def on_invoice_settled(
    uow: UnitOfWork, event: CloudEvent, data: billing.InvoiceSettled
) -> None:
    """Paid in full: the visit is completed (billing's word on money is final)."""
    await service.visit_paid(
        uow,
        event.visitid or data.visit_id,
        event.subject,
        total_amount=data.total_amount,
        cause=_cause(event),
    )


def subscriptions() -> list[Subscription]:
    handles = Handlers()
    handles("triage", triage.ENCOUNTER_UPDATED)(to(VisitStatus.IN_TRIAGE))
    handles("triage", triage.TRIAGE_COMPLETED)(to(VisitStatus.WAITING_CONSULTATION))
    handles("triage", triage.TRIAGE_COMPLETED)(report.record_colour)
    handles("clinical", clinical.DIAGNOSIS_ADDED)(to(VisitStatus.IN_CONSULTATION))
    handles("clinical", clinical.DIAGNOSIS_ADDED)(report.record_diagnosis)
    handles("clinical", clinical.PRESCRIPTION_CREATED, clinical.LAB_REQUEST_CREATED)(
        to(VisitStatus.IN_CONSULTATION)
    )
    handles("clinical", clinical.CONSULTATION_COMPLETED)(on_consultation_completed)
    handles("billing", billing.VISIT_READY_FOR_PAYMENT)(to(VisitStatus.WAITING_PAYMENT))
    handles("billing", billing.INVOICE_SETTLED)(on_invoice_settled)
    # The daily report's and the visits board's read model (registration.report, .board).
    handles("billing", billing.PAYMENT_COMPLETED)(report.record_payment)
    # Each stage's arrival, hand-on and breaches; who holds the patient there now.
    arrived = (assignment_key("created"),)
    moved = tuple(map(assignment_key, ("claimed", "transferred", "returned_to_queue")))
    left = tuple(map(assignment_key, ("completed", "cancelled")))
    for department in DEPARTMENTS:
        # The arrival is the holder's first row (board.record_holder inserts it): one
        # statement per new assignment, not two.
        handles(department, *left)(report.record_handed_on)
        handles(department, *arrived, *moved, *left)(board.record_holder)
        handles(department, WAIT_TIME_EXCEEDED)(report.record_breach)
        handles(department, WAIT_TIME_EXCEEDED)(board.record_escalation)
    return handles.subscriptions()
