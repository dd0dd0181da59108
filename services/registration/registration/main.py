"""The registration app: ``uvicorn --factory registration.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.app import ConsumerSpec, create_service_app
from kliniki.settings import ServiceSettings
from registration.api import registration_router
from registration.handlers import subscriptions
from registration.models import Base


def create_app() -> FastAPI:
    return create_service_app(
        ServiceSettings(service_name="registration"),
        Base.metadata,
        routers=[registration_router()],
        consumers=[ConsumerSpec("inbox", subscriptions())],
        description="Patients, OP numbers, visits and follow-up appointments.",
    )
