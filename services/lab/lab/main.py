"""The lab app: ``uvicorn --factory lab.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from lab.models import Base, worklist_models


def create_app() -> FastAPI:
    app, _ = create_department_app(
        "lab",
        Base.metadata,
        worklist_models,
        description="The lab worklist, results with reference ranges and abnormal/critical flags.",
    )
    return app
