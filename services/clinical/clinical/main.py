"""The clinical app: ``uvicorn --factory clinical.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from clinical.api import clinical_router, fhir_router, icd10_router
from clinical.handlers import handoff_subscriptions
from clinical.models import Base, worklist_models
from clinical.service import complete_consultation
from kliniki.department import create_department_app
from kliniki.settings import ServiceSettings
from kliniki.worklist.service import Worklist


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="clinical")
    worklist = Worklist(worklist_models, settings.staff_file, on_completed=complete_consultation)
    return create_department_app(
        settings,
        Base.metadata,
        worklist,
        routers=[clinical_router(settings), fhir_router(), icd10_router()],
        subscriptions=handoff_subscriptions(worklist),
        description="Consultations: ICD-10 diagnoses, prescriptions, lab requests, the worklist.",
    )
