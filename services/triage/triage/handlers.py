"""Triage's event handlers: every new visit starts on the triage worklist."""

from __future__ import annotations

from kliniki.consumer import Subscription
from kliniki.contracts import Handlers, registration
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import Priority
from kliniki.worklist.service import Worklist
from triage.service import open_encounter


def intake_subscriptions(worklist: Worklist) -> list[Subscription]:
    handles = Handlers()

    @handles("registration", registration.PATIENT_REGISTERED, registration.VISIT_OPENED)
    async def take_in(
        uow: UnitOfWork,
        event: CloudEvent,
        data: registration.PatientRegistered | registration.VisitData,
    ) -> None:
        """A new patient or a returning one's visit, already remembered (kliniki.department):
        onto the triage worklist."""
        await open_encounter(uow.session, data.patient_id, data.visit_id)
        await worklist.place(
            uow,
            patient_id=data.patient_id,
            visit_id=data.visit_id,
            priority=Priority.NORMAL,
            cause=f"intake on {event.routing_key}",
        )

    return handles.subscriptions()
