"""Event handlers every department shares: patient snapshots, and visits cancelled at the desk."""

from __future__ import annotations

from kliniki.access import Stage
from kliniki.consumer import Subscription
from kliniki.contracts import registration, triage
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

    async def remember_colour(uow: UnitOfWork, event: CloudEvent) -> None:
        colour = event.data.get("triageColour")
        if event.visitid and event.subject and isinstance(colour, str):
            await worklist.remember_colour(uow.session, event.subject, event.visitid, colour)

    # Triage knows its own colours; every later stage learns them from triage.completed.
    colours = (
        []
        if worklist.stage is Stage.TRIAGE
        else [Subscription("triage", triage.TRIAGE_COMPLETED, remember_colour)]
    )
    return [
        *colours,
        Subscription("registration", registration.PATIENT_REGISTERED, remember),
        Subscription("registration", registration.VISIT_UPDATED, withdraw_cancelled),
        Subscription("registration", registration.PATIENT_UPDATED, remember),
        Subscription("registration", registration.VISIT_OPENED, remember),
    ]
