"""Triage's event handlers: every new visit starts on the triage worklist."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import Priority
from kliniki.worklist.service import Worklist
from triage.service import open_encounter


def intake_subscriptions(worklist: Worklist) -> list[Subscription]:
    async def take_in(uow: UnitOfWork, event: CloudEvent) -> None:
        """A new patient (``patient.registered``) or a returning one's visit (``visit.opened``),
        already remembered (kliniki.department): onto the triage worklist."""
        data = event.data
        await open_encounter(uow.session, data["patientId"], data["visitId"])
        await worklist.place(
            uow,
            patient_id=data["patientId"],
            visit_id=data["visitId"],
            priority=Priority.NORMAL,
            cause=f"intake on {event.routing_key}",
        )

    return [
        Subscription("registration", "patient.registered", take_in),
        Subscription("registration", "visit.opened", take_in),
    ]
