"""The lab app: ``uvicorn --factory lab.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from kliniki.settings import ServiceSettings
from lab.api import lab_router
from lab.domain import Catalogue
from lab.handlers import order_subscriptions
from lab.models import Base, worklist_models
from lab.service import LAB_ORDERS


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="lab")
    # Loaded once at start: a malformed catalogue stops the service instead of misflagging.
    catalogue = Catalogue.from_file(settings.lab_catalogue_file)
    app, _ = create_department_app(
        "lab",
        Base.metadata,
        worklist_models,
        routers_factory=lambda worklist: [lab_router(worklist, catalogue)],
        subscriptions_factory=lambda worklist: order_subscriptions(worklist, catalogue),
        before_assignment_closed=LAB_ORDERS.refuse_closing_while_open,
        description="The lab worklist, results with reference ranges and abnormal/critical flags.",
    )
    return app
