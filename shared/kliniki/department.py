"""The app of a department with a worklist (triage, clinical, lab, pharmacy, billing).

A department = the app factory + its worklist routes + patient snapshots kept from
registration's events + whatever routes and handlers are its own domain.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from fastapi import APIRouter, FastAPI
from sqlalchemy import MetaData

from kliniki.app import ConsumerSpec, create_service_app
from kliniki.consumer import Subscription
from kliniki.settings import ServiceSettings
from kliniki.worklist.api import worklist_router
from kliniki.worklist.handlers import patient_snapshot_subscriptions
from kliniki.worklist.models import WorklistModels
from kliniki.worklist.service import AssignmentHook, Worklist


def create_department_app(
    service_name: str,
    metadata: MetaData,
    worklist_models: WorklistModels,
    routers_factory: Callable[[Worklist], Sequence[APIRouter]] = lambda _: (),
    subscriptions_factory: Callable[[Worklist], Sequence[Subscription]] = lambda _: (),
    on_assignment_completed: AssignmentHook | None = None,
    description: str = "",
) -> tuple[FastAPI, Worklist]:
    """The department's app; it consumes events on the durable queue ``<service>.inbox``."""
    settings = ServiceSettings(service_name=service_name)
    worklist = Worklist(worklist_models, settings.staff_file, on_assignment_completed)
    subscriptions = list(subscriptions_factory(worklist))
    own_keys = {(s.service, s.routing_key) for s in subscriptions}
    snapshot_subs = [
        s
        for s in patient_snapshot_subscriptions(worklist)
        if (s.service, s.routing_key) not in own_keys
    ]
    app = create_service_app(
        settings,
        metadata,
        routers=[worklist_router(worklist), *routers_factory(worklist)],
        consumers=[ConsumerSpec("inbox", [*snapshot_subs, *subscriptions])],
        staff_hooks=[worklist.on_staff_change],
        description=description,
    )
    return app, worklist
