"""The pharmacy's event handlers: clinical's prescriptions put patients on the worklist."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.contracts import clinical, contract, subscribe
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist
from pharmacy.service import cancel_prescription, receive_prescription


def prescription_subscriptions(worklist: Worklist) -> list[Subscription]:
    async def on_created(
        uow: UnitOfWork, event: CloudEvent, data: clinical.PrescriptionCreated
    ) -> None:
        await receive_prescription(uow, worklist, data, event)

    async def on_cancelled(
        uow: UnitOfWork, event: CloudEvent, data: clinical.PrescriptionCancelled
    ) -> None:
        await cancel_prescription(uow, worklist, data)

    return [
        subscribe(contract("clinical", clinical.PRESCRIPTION_CREATED), on_created),
        subscribe(contract("clinical", clinical.PRESCRIPTION_CANCELLED), on_cancelled),
    ]
