"""The triage app: ``uvicorn --factory triage.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from triage.api import router
from triage.handlers import intake_subscriptions
from triage.models import Base, worklist_models
from triage.service import complete_triage


def create_app() -> FastAPI:
    app, _ = create_department_app(
        "triage",
        Base.metadata,
        worklist_models,
        routers_factory=lambda _: [router],
        subscriptions_factory=intake_subscriptions,
        on_assignment_completed=complete_triage,
        description="The triage worklist, encounters, vital signs and triage category.",
    )
    return app
