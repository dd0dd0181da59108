"""The app of a department with a worklist (triage, clinical, lab, pharmacy, billing).

A department = the app factory + its worklist routes + patient snapshots kept from
registration's events + whatever routes and handlers are its own domain.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData

from kliniki.app import ConsumerSpec, create_service_app
from kliniki.consumer import EventHandler, RefuseEvent, Subscription, in_turn
from kliniki.db import is_database_unavailable
from kliniki.events import CloudEvent
from kliniki.kernel import Kernel
from kliniki.settings import ServiceSettings
from kliniki.uow import UnitOfWork
from kliniki.worklist.api import worklist_router
from kliniki.worklist.escalation import escalator
from kliniki.worklist.handlers import patient_snapshot_subscriptions
from kliniki.worklist.service import Worklist

log = logging.getLogger(__name__)


def visit_checked(worklist: Worklist, handler: EventHandler) -> EventHandler:
    """``handler``, for events whose patient and visit agree with registration's word.

    A visit of another patient is refused into the dead-letter queue. A visit not known yet
    is let through: events may overtake registration's (billing keeps such charges until the
    visit is registered), and nothing contradicts them.
    """

    async def checked(uow: UnitOfWork, event: CloudEvent) -> None:
        data = event.data
        patient_id = data.get("patientId") or event.subject
        visit_id = data.get("visitId") or event.visitid
        if event.subject and patient_id != event.subject:
            raise RefuseEvent(f"data.patientId {patient_id} is not the subject {event.subject}")
        if event.visitid and visit_id != event.visitid:
            raise RefuseEvent(f"data.visitId {visit_id} is not the visitid {event.visitid}")
        if isinstance(patient_id, str) and isinstance(visit_id, str):
            owner = await worklist.visit_owner(uow.session, visit_id)
            if owner is not None and owner != patient_id:
                raise RefuseEvent(f"visit {visit_id} is not a visit of patient {patient_id}")
        await handler(uow, event)

    return checked


def create_department_app(
    settings: ServiceSettings,
    metadata: MetaData,
    worklist: Worklist,
    routers: Sequence[APIRouter] = (),
    subscriptions: Sequence[Subscription] = (),
    description: str = "",
) -> FastAPI:
    """The department's app around the ``worklist`` its main.py built; it consumes events on
    the durable queue ``<service>.inbox``."""
    # Registration's events are the word on whose visit is whose; every other is checked.
    checked = [
        s
        if s.service == "registration"
        else Subscription(s.service, s.routing_key, visit_checked(worklist, s.handler), s.model)
        for s in subscriptions
    ]
    # What every department does with registration's events comes first; a department's own
    # handler for the same event runs after it, in the same transaction.
    shared = {(s.service, s.routing_key): s for s in patient_snapshot_subscriptions(worklist)}
    for i, own in enumerate(checked):
        common = shared.pop((own.service, own.routing_key), None)
        if common is not None:
            checked[i] = Subscription(
                own.service, own.routing_key, in_turn(common.handler, own.handler), own.model
            )
    snapshot_subs = list(shared.values())

    async def seed_roster(kernel: Kernel) -> None:
        try:
            async with kernel.sessionmaker() as session:
                await worklist.seed_roster(session)
        except Exception as exc:  # the database is not up yet: the first assignment seeds it
            if not is_database_unavailable(exc):
                raise
            log.warning("duty roster not seeded yet: %s", exc)

    return create_service_app(
        settings,
        metadata,
        routers=[worklist_router(worklist), *routers],
        consumers=[ConsumerSpec("inbox", [*snapshot_subs, *checked])],
        staff_hooks=[worklist.on_staff_change],
        background=[escalator(worklist)],
        startup=[seed_roster],
        description=description,
    )
