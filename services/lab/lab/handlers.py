"""The lab's event handlers: clinical's orders put patients on the lab worklist."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.contracts import clinical, contract, subscribe
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist
from lab.domain import Catalogue
from lab.service import cancel_lab_request, receive_lab_request


def order_subscriptions(worklist: Worklist, catalogue: Catalogue) -> list[Subscription]:
    async def on_created(
        uow: UnitOfWork, event: CloudEvent, data: clinical.LabRequestCreated
    ) -> None:
        await receive_lab_request(uow, worklist, catalogue, data, event)

    async def on_cancelled(
        uow: UnitOfWork, event: CloudEvent, data: clinical.LabRequestCancelled
    ) -> None:
        await cancel_lab_request(uow, worklist, data)

    return [
        subscribe(contract("clinical", clinical.LAB_REQUEST_CREATED), on_created),
        subscribe(contract("clinical", clinical.LAB_REQUEST_CANCELLED), on_cancelled),
    ]
