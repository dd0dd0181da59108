"""The pharmacy app: ``uvicorn --factory pharmacy.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from pharmacy.models import Base, worklist_models


def create_app() -> FastAPI:
    app, _ = create_department_app(
        "pharmacy",
        Base.metadata,
        worklist_models,
        description="The prescription worklist and dispensing.",
    )
    return app
