"""Billing's event handlers: each reads what billing needs off one event type and calls a use
case of ``Billing`` with it (billing.service)."""

from __future__ import annotations

import datetime as dt

from billing import events
from billing.domain import OrderKind, OrderStatus
from billing.invoice import Cause
from billing.service import Billing
from kliniki.consumer import EventHandler, Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork


def visit_of(event: CloudEvent) -> tuple[str, str]:
    """(visit id, patient id) an event is about; an event without them cannot be billed."""
    visit_id = event.data.get("visitId") or event.visitid
    patient_id = event.data.get("patientId") or event.subject
    if not visit_id or not patient_id:
        raise ValueError(f"{event.type} {event.id} names no visitId/patientId: cannot bill it")
    return visit_id, patient_id


def cause_of(event: CloudEvent) -> Cause:
    return Cause(event.id, event.source.rsplit("/", 1)[-1], event.routing_key)


def _order_id(event: CloudEvent, kind: OrderKind) -> str:
    key = "labRequestId" if kind is OrderKind.LAB_REQUEST else "prescriptionId"
    order_id = event.data.get(key)
    if not order_id:
        raise ValueError(f"{event.type} {event.id} names no {key}")
    return str(order_id)


def _when(raw: object, event: CloudEvent) -> dt.datetime:
    """A time from an event's data, else the event's own time."""
    if isinstance(raw, str):
        try:
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            pass
    return event.time


def billing_subscriptions(billing: Billing) -> list[Subscription]:
    async def patient_registered(uow: UnitOfWork, event: CloudEvent) -> None:
        # A new patient's first visit, at version 1; paid as the patient's insurance says.
        visit_id, patient_id = visit_of(event)
        await billing.visit_changed(
            uow,
            visit_id,
            patient_id,
            visit_version=1,
            payment_type=event.data.get("insuranceType"),
            visit_status=None,
            cause=f"on registration {event.routing_key}",
        )

    async def visit_changed(uow: UnitOfWork, event: CloudEvent) -> None:
        visit_id, patient_id = visit_of(event)
        version = event.data.get("version")
        await billing.visit_changed(
            uow,
            visit_id,
            patient_id,
            visit_version=version if isinstance(version, int) else None,
            payment_type=event.data.get("paymentType"),
            visit_status=event.data.get("status"),
            cause=f"on registration {event.routing_key}",
        )

    async def consultation_completed(uow: UnitOfWork, event: CloudEvent) -> None:
        visit_id, patient_id = visit_of(event)
        await billing.consultation_completed(
            uow,
            visit_id,
            patient_id,
            lab_request_ids=list(event.data.get("labRequestIds") or []),
            prescription_ids=list(event.data.get("prescriptionIds") or []),
            completed_at=_when(event.data.get("completedAt"), event),
            cause=cause_of(event),
        )

    def order(kind: OrderKind, status: OrderStatus) -> EventHandler:
        async def handler(uow: UnitOfWork, event: CloudEvent) -> None:
            visit_id, patient_id = visit_of(event)
            await billing.order_reported(
                uow, visit_id, patient_id, order_id=_order_id(event, kind), kind=kind, status=status
            )

        return handler

    async def lab_test_done(uow: UnitOfWork, event: CloudEvent) -> None:
        visit_id, patient_id = visit_of(event)
        test_type = str(event.data.get("testType") or "UNKNOWN")
        await billing.order_fulfilled(
            uow,
            visit_id,
            patient_id,
            order_id=_order_id(event, OrderKind.LAB_REQUEST),
            kind=OrderKind.LAB_REQUEST,
            code=test_type,
            name=str(event.data.get("testName") or test_type),
            cause=cause_of(event),
        )

    async def medication_dispensed(uow: UnitOfWork, event: CloudEvent) -> None:
        visit_id, patient_id = visit_of(event)
        medication = str(event.data.get("medicationName") or "Medication")
        await billing.order_fulfilled(
            uow,
            visit_id,
            patient_id,
            order_id=_order_id(event, OrderKind.PRESCRIPTION),
            kind=OrderKind.PRESCRIPTION,
            code=medication,
            name=medication,
            cause=cause_of(event),
        )

    lab, rx = OrderKind.LAB_REQUEST, OrderKind.PRESCRIPTION
    return [
        # These two also keep the patient snapshot (the department's shared handler for them
        # is replaced by these).
        Subscription("registration", events.PATIENT_REGISTERED, patient_registered),
        Subscription("registration", events.VISIT_OPENED, visit_changed),
        Subscription("registration", events.VISIT_UPDATED, visit_changed),
        Subscription("registration", events.VISIT_COMPLETED, visit_changed),
        Subscription("clinical", events.CONSULTATION_COMPLETED, consultation_completed),
        Subscription("clinical", events.LAB_REQUEST_CREATED, order(lab, OrderStatus.PENDING)),
        Subscription("clinical", events.LAB_REQUEST_CANCELLED, order(lab, OrderStatus.CANCELLED)),
        Subscription("clinical", events.PRESCRIPTION_CREATED, order(rx, OrderStatus.PENDING)),
        Subscription("clinical", events.PRESCRIPTION_CANCELLED, order(rx, OrderStatus.CANCELLED)),
        Subscription("lab", events.LAB_REQUEST_COMPLETED, lab_test_done),
        Subscription("pharmacy", events.PRESCRIPTION_DISPENSED, medication_dispensed),
    ]
