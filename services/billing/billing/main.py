"""The billing app: ``uvicorn --factory billing.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from billing.models import Base, worklist_models
from kliniki.department import create_department_app


def create_app() -> FastAPI:
    app, _ = create_department_app(
        "billing",
        Base.metadata,
        worklist_models,
        description="Charges, the invoice of a visit, payments, closing the visit.",
    )
    return app
