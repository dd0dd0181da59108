"""Billing's event handlers: each reads what billing needs off one event's parsed data (its
model in kliniki.contracts) and calls a use case of ``Billing`` with it (billing.service)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from billing.domain import OrderKind, OrderStatus
from billing.invoice import Cause
from billing.service import Billing
from kliniki.consumer import Subscription
from kliniki.contracts import clinical, contract, lab, pharmacy, registration, subscribe
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork

# What clinical reports of an order: the order's id names its kind.
OrderNews = (
    clinical.LabRequestCreated
    | clinical.LabRequestCancelled
    | clinical.PrescriptionCreated
    | clinical.PrescriptionCancelled
)


def cause_of(event: CloudEvent) -> Cause:
    return Cause(event.id, event.source.rsplit("/", 1)[-1], event.routing_key)


def billing_subscriptions(billing: Billing) -> list[Subscription]:
    async def registration_news(
        uow: UnitOfWork,
        event: CloudEvent,
        data: registration.PatientRegistered | registration.VisitData,
    ) -> None:
        """Whom to bill and how the visit is paid: a new patient's first visit is at version 1,
        paid as their insurance says; a visit's own events carry its version and status."""
        if isinstance(data, registration.PatientRegistered):
            version, payment_type, status = 1, data.insurance_type, None
        else:
            version, payment_type, status = data.version, data.payment_type, data.status
        await billing.visit_changed(
            uow,
            data.visit_id,
            data.patient_id,
            visit_version=version,
            payment_type=payment_type,
            visit_status=status,
            cause=f"on registration {event.routing_key}",
        )

    async def consultation_completed(
        uow: UnitOfWork, event: CloudEvent, data: clinical.ConsultationCompleted
    ) -> None:
        await billing.consultation_completed(
            uow,
            data.visit_id,
            data.patient_id,
            lab_request_ids=data.lab_request_ids,
            prescription_ids=data.prescription_ids,
            completed_at=data.completed_at,
            cause=cause_of(event),
        )

    def order(
        status: OrderStatus,
    ) -> Callable[[UnitOfWork, CloudEvent, OrderNews], Awaitable[None]]:
        async def handler(uow: UnitOfWork, event: CloudEvent, data: OrderNews) -> None:
            if isinstance(data, clinical.LabRequestCreated | clinical.LabRequestCancelled):
                kind, order_id = OrderKind.LAB_REQUEST, data.lab_request_id
            else:
                kind, order_id = OrderKind.PRESCRIPTION, data.prescription_id
            await billing.order_reported(
                uow, data.visit_id, data.patient_id, order_id=order_id, kind=kind, status=status
            )

        return handler

    async def order_fulfilled(
        uow: UnitOfWork,
        event: CloudEvent,
        data: lab.LabRequestCompleted | pharmacy.PrescriptionDispensed,
    ) -> None:
        """A test reported or a medication dispensed: billed as its test type or medication."""
        if isinstance(data, lab.LabRequestCompleted):
            kind, order_id = OrderKind.LAB_REQUEST, data.lab_request_id
            code, name = data.test_type, data.test_name
        else:
            kind, order_id = OrderKind.PRESCRIPTION, data.prescription_id
            code = name = data.medication_name
        await billing.order_fulfilled(
            uow,
            data.visit_id,
            data.patient_id,
            order_id=order_id,
            kind=kind,
            code=code,
            name=name,
            cause=cause_of(event),
        )

    pending, cancelled = order(OrderStatus.PENDING), order(OrderStatus.CANCELLED)
    return [
        # These also keep the patient snapshot (the department's shared handler for them runs
        # first, kliniki.department).
        subscribe(contract("registration", registration.PATIENT_REGISTERED), registration_news),
        subscribe(contract("registration", registration.VISIT_OPENED), registration_news),
        subscribe(contract("registration", registration.VISIT_UPDATED), registration_news),
        subscribe(contract("registration", registration.VISIT_COMPLETED), registration_news),
        subscribe(contract("clinical", clinical.CONSULTATION_COMPLETED), consultation_completed),
        subscribe(contract("clinical", clinical.LAB_REQUEST_CREATED), pending),
        subscribe(contract("clinical", clinical.LAB_REQUEST_CANCELLED), cancelled),
        subscribe(contract("clinical", clinical.PRESCRIPTION_CREATED), pending),
        subscribe(contract("clinical", clinical.PRESCRIPTION_CANCELLED), cancelled),
        subscribe(contract("lab", lab.LAB_REQUEST_COMPLETED), order_fulfilled),
        subscribe(contract("pharmacy", pharmacy.PRESCRIPTION_DISPENSED), order_fulfilled),
    ]
