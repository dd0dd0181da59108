"""Billing's event handlers: each reads what billing needs off one event's parsed data (its
model in kliniki.contracts) and calls a use case of ``Billing`` with it (billing.service)."""

from __future__ import annotations

from billing.domain import OrderKind, OrderStatus, VisitOrder
from billing.invoice import Cause
from billing.service import Billing
from kliniki.consumer import Subscription
from kliniki.contracts import Handlers, clinical, lab, pharmacy, registration
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork

# What clinical and the fulfilling departments report of an order.
OrderNews = (
    clinical.LabRequestCreated
    | clinical.LabRequestCancelled
    | lab.LabRequestCompleted
    | clinical.PrescriptionCreated
    | clinical.PrescriptionCancelled
    | pharmacy.PrescriptionDispensed
)


def order_of(data: OrderNews) -> VisitOrder:
    """The order an event is about, of the kind its model names."""
    lab_order = clinical.LabRequestCreated | clinical.LabRequestCancelled | lab.LabRequestCompleted
    kind = OrderKind.LAB_REQUEST if isinstance(data, lab_order) else OrderKind.PRESCRIPTION
    return VisitOrder(data.visit_id, data.patient_id, data.order_id, kind)


def cause_of(event: CloudEvent) -> Cause:
    return Cause(event.id, event.source.rsplit("/", 1)[-1], event.routing_key)


def billing_subscriptions(billing: Billing) -> list[Subscription]:
    handles = Handlers()

    # These also keep the patient snapshot (the department's shared handler for them runs
    # first, kliniki.department).
    @handles(
        "registration",
        registration.PATIENT_REGISTERED,
        registration.VISIT_OPENED,
        registration.VISIT_UPDATED,
        registration.VISIT_COMPLETED,
    )
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

    @handles("clinical", clinical.CONSULTATION_COMPLETED)
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

    @handles("clinical", clinical.LAB_REQUEST_CREATED, clinical.PRESCRIPTION_CREATED)
    async def ordered(uow: UnitOfWork, event: CloudEvent, data: OrderNews) -> None:
        await billing.order_reported(uow, order_of(data), OrderStatus.PENDING)

    @handles("clinical", clinical.LAB_REQUEST_CANCELLED, clinical.PRESCRIPTION_CANCELLED)
    async def cancelled(uow: UnitOfWork, event: CloudEvent, data: OrderNews) -> None:
        await billing.order_reported(uow, order_of(data), OrderStatus.CANCELLED)

    @handles("lab", lab.LAB_REQUEST_COMPLETED)
    @handles("pharmacy", pharmacy.PRESCRIPTION_DISPENSED)
    async def fulfilled(
        uow: UnitOfWork,
        event: CloudEvent,
        data: lab.LabRequestCompleted | pharmacy.PrescriptionDispensed,
    ) -> None:
        """A test reported or a medication dispensed: billed as its test type or medication."""
        if isinstance(data, lab.LabRequestCompleted):
            code, name = data.test_type, data.test_name
        else:
            code = name = data.medication_name
        await billing.order_fulfilled(
            uow, order_of(data), code=code, name=name, cause=cause_of(event)
        )

    return handles.subscriptions()
