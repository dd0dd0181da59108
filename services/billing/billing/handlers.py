"""Billing's event handlers: one per consumed event type, each a use case of ``Billing``.

Billing only listens: it never refuses or delays what a department does, and nothing waits
for it. The readiness rule is evaluated after each event, whatever order they arrive in.
"""

from __future__ import annotations

from billing import events
from billing.domain import OrderKind, OrderStatus
from billing.service import Billing
from kliniki.consumer import EventHandler, Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork


def billing_subscriptions(billing: Billing) -> list[Subscription]:
    def order(kind: OrderKind, status: OrderStatus) -> EventHandler:
        async def handler(uow: UnitOfWork, event: CloudEvent) -> None:
            await billing.order_reported(uow, event, kind, status)

        return handler

    lab, rx = OrderKind.LAB_REQUEST, OrderKind.PRESCRIPTION
    return [
        # These two also keep the patient snapshot (the department's shared handler for them
        # is replaced by these).
        Subscription("registration", events.PATIENT_REGISTERED, billing.visit_changed),
        Subscription("registration", events.VISIT_OPENED, billing.visit_changed),
        Subscription("registration", events.VISIT_UPDATED, billing.visit_changed),
        Subscription("registration", events.VISIT_COMPLETED, billing.visit_changed),
        Subscription("clinical", events.CONSULTATION_COMPLETED, billing.consultation_completed),
        Subscription("clinical", events.LAB_REQUEST_CREATED, order(lab, OrderStatus.PENDING)),
        Subscription("clinical", events.LAB_REQUEST_CANCELLED, order(lab, OrderStatus.CANCELLED)),
        Subscription("clinical", events.PRESCRIPTION_CREATED, order(rx, OrderStatus.PENDING)),
        Subscription("clinical", events.PRESCRIPTION_CANCELLED, order(rx, OrderStatus.CANCELLED)),
        Subscription("lab", events.LAB_REQUEST_COMPLETED, billing.lab_test_done),
        Subscription("pharmacy", events.PRESCRIPTION_DISPENSED, billing.medication_dispensed),
    ]
