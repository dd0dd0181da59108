"""The triage app: ``uvicorn --factory triage.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from triage.handlers import intake_subscriptions
from triage.models import Base, worklist_models


def create_app() -> FastAPI:
    app, _ = create_department_app(
        "triage",
        Base.metadata,
        worklist_models,
        subscriptions_factory=intake_subscriptions,
        description="The triage worklist, encounters, vital signs and triage category.",
    )
    return app
