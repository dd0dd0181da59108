"""Event handlers every department shares: patient snapshots, and visits cancelled at the desk."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist


def patient_snapshot_subscriptions(worklist: Worklist) -> list[Subscription]:
    """Subscriptions that keep ``patient_snapshots`` in step with registration."""

    async def remember(uow: UnitOfWork, event: CloudEvent) -> None:
        await worklist.remember_patient(uow.session, event.data, event.sequence or 0)

    async def withdraw_cancelled(uow: UnitOfWork, event: CloudEvent) -> None:
        if event.data.get("status") == "CANCELLED" and event.visitid:
            reason = event.data.get("cancellationReason") or "cancelled"
            await worklist.withdraw(uow, event.visitid, f"visit cancelled: {reason}")

    return [
        Subscription("registration", "patient.registered", remember),
        Subscription("registration", "visit.updated", withdraw_cancelled),
        Subscription("registration", "patient.updated", remember),
        Subscription("registration", "visit.opened", remember),
    ]
