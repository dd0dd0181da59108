"""The lab app: ``uvicorn --factory lab.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from kliniki.settings import ServiceSettings
from kliniki.worklist.service import Worklist
from lab.api import lab_router
from lab.domain import Catalogue
from lab.handlers import order_subscriptions
from lab.models import Base, worklist_models
from lab.service import LAB_ORDERS


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="lab")
    # Loaded once at start: a malformed catalogue stops the service instead of misflagging.
    catalogue = Catalogue.from_file(settings.lab_catalogue_file)
    worklist = Worklist(
        worklist_models, settings.staff_file, before_close=LAB_ORDERS.refuse_closing_while_open
    )
    return create_department_app(
        settings,
        Base.metadata,
        worklist,
        routers=[lab_router(worklist, catalogue)],
        subscriptions=order_subscriptions(worklist, catalogue),
        description="The lab worklist, results with reference ranges and abnormal/critical flags.",
    )
