"""The pharmacy app: ``uvicorn --factory pharmacy.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from pharmacy.api import pharmacy_router
from pharmacy.handlers import prescription_subscriptions
from pharmacy.models import Base, worklist_models
from pharmacy.service import PRESCRIPTIONS


def create_app() -> FastAPI:
    app, _ = create_department_app(
        "pharmacy",
        Base.metadata,
        worklist_models,
        routers_factory=lambda worklist: [pharmacy_router(worklist)],
        subscriptions_factory=prescription_subscriptions,
        before_assignment_closed=PRESCRIPTIONS.refuse_closing_while_open,
        description="The prescription worklist and dispensing.",
    )
    return app
