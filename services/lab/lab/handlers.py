"""The lab's event handlers: clinical's orders put patients on the lab worklist."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist
from lab import events
from lab.domain import Catalogue
from lab.service import cancel_lab_request, receive_lab_request


def order_subscriptions(worklist: Worklist, catalogue: Catalogue) -> list[Subscription]:
    async def on_created(uow: UnitOfWork, event: CloudEvent) -> None:
        await receive_lab_request(uow, worklist, catalogue, event)

    async def on_cancelled(uow: UnitOfWork, event: CloudEvent) -> None:
        await cancel_lab_request(uow, worklist, event)

    return [
        Subscription("clinical", events.LAB_REQUEST_CREATED, on_created),
        Subscription("clinical", events.LAB_REQUEST_CANCELLED, on_cancelled),
    ]
