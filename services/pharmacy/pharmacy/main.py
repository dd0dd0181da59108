"""The pharmacy app: ``uvicorn --factory pharmacy.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.department import create_department_app
from kliniki.settings import ServiceSettings
from kliniki.worklist.service import Worklist
from pharmacy.api import pharmacy_router
from pharmacy.handlers import prescription_subscriptions
from pharmacy.models import Base, worklist_models
from pharmacy.service import PRESCRIPTIONS


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="pharmacy")
    worklist = Worklist(
        worklist_models, settings.staff_file, before_close=PRESCRIPTIONS.refuse_closing_while_open
    )
    return create_department_app(
        settings,
        Base.metadata,
        worklist,
        routers=[pharmacy_router(worklist)],
        subscriptions=prescription_subscriptions(worklist),
        description="The prescription worklist and dispensing.",
    )
