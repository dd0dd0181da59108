"""Registration's event handlers: the visit's status follows the departments' events.

Each handler receives its event's data parsed into the model in kliniki.contracts.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from kliniki.consumer import Subscription
from kliniki.contracts import ParsedHandler, billing, clinical, contract, subscribe, triage
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


# What registration's read models do with each change of a worklist assignment.
ASSIGNMENT_HANDLERS: dict[str, tuple[ParsedHandler[Any], ...]] = {
    "created": (report.record_arrival, board.record_holder),
    "claimed": (board.record_holder,),
    "transferred": (board.record_holder,),
    "returned_to_queue": (board.record_holder,),
    "completed": (report.record_handed_on, board.record_holder),
    "cancelled": (report.record_handed_on, board.record_holder),
}


def subscriptions() -> list[Subscription]:
    return [
        subscribe(contract("triage", triage.ENCOUNTER_UPDATED), to(VisitStatus.IN_TRIAGE)),
        subscribe(
            contract("triage", triage.TRIAGE_COMPLETED),
            to(VisitStatus.WAITING_CONSULTATION),
            report.record_colour,
        ),
        subscribe(
            contract("clinical", clinical.DIAGNOSIS_ADDED),
            to(VisitStatus.IN_CONSULTATION),
            report.record_diagnosis,
        ),
        subscribe(
            contract("clinical", clinical.PRESCRIPTION_CREATED), to(VisitStatus.IN_CONSULTATION)
        ),
        subscribe(
            contract("clinical", clinical.LAB_REQUEST_CREATED), to(VisitStatus.IN_CONSULTATION)
        ),
        subscribe(contract("clinical", clinical.CONSULTATION_COMPLETED), on_consultation_completed),
        subscribe(
            contract("billing", billing.VISIT_READY_FOR_PAYMENT), to(VisitStatus.WAITING_PAYMENT)
        ),
        subscribe(contract("billing", billing.INVOICE_SETTLED), on_invoice_settled),
        # The daily report's and the visits board's read model (registration.report, .board).
        subscribe(contract("billing", billing.PAYMENT_COMPLETED), report.record_payment),
        *(
            subscribe(contract(department, assignment_key(change)), *handlers)
            for department in DEPARTMENTS
            for change, handlers in ASSIGNMENT_HANDLERS.items()
        ),
        *(
            subscribe(
                contract(department, WAIT_TIME_EXCEEDED),
                report.record_breach,
                board.record_escalation,
            )
            for department in DEPARTMENTS
        ),
    ]
