"""Event handlers every department shares: keeping its patient snapshots current."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist


def patient_snapshot_subscriptions(worklist: Worklist) -> list[Subscription]:
    """Subscriptions that keep ``patient_snapshots`` in step with registration."""

    async def remember(uow: UnitOfWork, event: CloudEvent) -> None:
        await worklist.remember_patient(uow.session, event.data, event.sequence or 0)

    return [
        Subscription("registration", "patient.registered", remember),
        Subscription("registration", "patient.updated", remember),
        Subscription("registration", "visit.opened", remember),
    ]
