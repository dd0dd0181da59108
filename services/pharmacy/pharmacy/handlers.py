"""The pharmacy's event handlers: clinical's prescriptions put patients on the worklist."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist
from pharmacy import events
from pharmacy.service import cancel_prescription, receive_prescription


def prescription_subscriptions(worklist: Worklist) -> list[Subscription]:
    async def on_created(uow: UnitOfWork, event: CloudEvent) -> None:
        await receive_prescription(uow, worklist, event)

    async def on_cancelled(uow: UnitOfWork, event: CloudEvent) -> None:
        await cancel_prescription(uow, worklist, event)

    return [
        Subscription("clinical", events.PRESCRIPTION_CREATED, on_created),
        Subscription("clinical", events.PRESCRIPTION_CANCELLED, on_cancelled),
    ]
