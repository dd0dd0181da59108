"""A consumer's handler is checked against the contract of the events it is put on."""

from __future__ import annotations

import pytest

from kliniki.contracts import Handlers, triage
from kliniki.events import CloudEvent
from kliniki.uow import UnitOfWork


async def on_completed(uow: UnitOfWork, event: CloudEvent, data: triage.TriageCompleted) -> None:
    """A handler of triage.completed."""


def test_a_handler_put_on_another_events_key_is_refused_when_subscriptions_are_built() -> None:
    handles = Handlers()
    handles("triage", triage.ENCOUNTER_UPDATED)(on_completed)  # its data is EncounterUpdated
    with pytest.raises(TypeError, match="EncounterUpdated"):
        handles.subscriptions()


def test_a_handler_on_its_own_events_key_is_taken() -> None:
    handles = Handlers()
    handles("triage", triage.TRIAGE_COMPLETED)(on_completed)
    (subscription,) = handles.subscriptions()
    assert (subscription.routing_key, subscription.model) == (
        triage.TRIAGE_COMPLETED,
        triage.TriageCompleted,
    )
