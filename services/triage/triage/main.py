"""The triage app: ``uvicorn --factory triage.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from kliniki.settings import ServiceSettings
from kliniki.worklist.service import Worklist
from triage.api import triage_router
from triage.handlers import intake_subscriptions
from triage.models import Base, worklist_models
from triage.service import complete_triage


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="triage")
    worklist = Worklist(worklist_models, settings.staff_file, on_completed=complete_triage)
    return create_department_app(
        settings,
        Base.metadata,
        worklist,
        routers=[triage_router()],
        subscriptions=intake_subscriptions(worklist),
        description="The triage worklist, encounters, vital signs and triage category.",
    )
