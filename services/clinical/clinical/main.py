"""The clinical app: ``uvicorn --factory clinical.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from clinical.models import Base, worklist_models
from kliniki.department import create_department_app


def create_app() -> FastAPI:
    app, _ = create_department_app(
        "clinical",
        Base.metadata,
        worklist_models,
        description="Consultations: ICD-10 diagnoses, prescriptions, lab requests, the worklist.",
    )
    return app
