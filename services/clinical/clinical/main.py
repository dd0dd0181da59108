"""The clinical app: ``uvicorn --factory clinical.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from clinical.api import clinical_router, fhir_router, icd10_router
from clinical.handlers import handoff_subscriptions
from clinical.models import Base, worklist_models
from clinical.service import complete_consultation
from kliniki.department import create_department_app
from kliniki.settings import ServiceSettings


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="clinical")
    app, _ = create_department_app(
        "clinical",
        Base.metadata,
        worklist_models,
        routers_factory=lambda _: [clinical_router(settings), fhir_router(), icd10_router()],
        subscriptions_factory=handoff_subscriptions,
        on_assignment_completed=complete_consultation,
        description="Consultations: ICD-10 diagnoses, prescriptions, lab requests, the worklist.",
    )
    return app
