"""Event handlers every department shares: patient snapshots, and visits cancelled at the desk."""

from __future__ import annotations

from typing import Any

from kliniki.access import Stage
from kliniki.consumer import Subscription
from kliniki.contracts import ParsedHandler, contract, registration, subscribe, triage
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist

# Each carries the patient's demographics; a visit's events carry its visit too.
PatientFacts = registration.PatientRegistered | registration.PatientUpdated | registration.VisitData


def patient_snapshot_subscriptions(worklist: Worklist) -> list[Subscription]:
    """Subscriptions that keep ``patient_snapshots`` in step with registration. Their data is
    parsed into the contracts' models: an event that does not fit goes to the dead-letter
    queue at once, naming the field."""

    async def remember(uow: UnitOfWork, event: CloudEvent, data: PatientFacts) -> None:
        visit_id = None if isinstance(data, registration.PatientUpdated) else data.visit_id
        await worklist.remember_patient(uow.session, data, visit_id, event.sequence or 0)

    async def withdraw_cancelled(
        uow: UnitOfWork, event: CloudEvent, data: registration.VisitData
    ) -> None:
        if data.status == "CANCELLED":
            reason = data.cancellation_reason or "cancelled"
            await worklist.withdraw(uow, data.visit_id, f"visit cancelled: {reason}")

    async def remember_colour(
        uow: UnitOfWork, event: CloudEvent, data: triage.TriageCompleted
    ) -> None:
        await worklist.remember_colour(
            uow.session, data.patient_id, data.visit_id, data.triage_colour
        )

    def on(publisher: str, routing_key: str, handler: ParsedHandler[Any]) -> Subscription:
        return subscribe(contract(publisher, routing_key), handler)

    # Triage knows its own colours; every later stage learns them from triage.completed.
    colours = (
        []
        if worklist.stage is Stage.TRIAGE
        else [on("triage", triage.TRIAGE_COMPLETED, remember_colour)]
    )
    return [
        *colours,
        on("registration", registration.PATIENT_REGISTERED, remember),
        on("registration", registration.VISIT_UPDATED, withdraw_cancelled),
        on("registration", registration.PATIENT_UPDATED, remember),
        on("registration", registration.VISIT_OPENED, remember),
    ]
