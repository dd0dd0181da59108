"""The billing app: ``uvicorn --factory billing.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from billing.api import billing_router
from billing.domain import PriceList
from billing.handlers import billing_subscriptions
from billing.models import Base, worklist_models
from billing.service import Billing
from kliniki.department import create_department_app
from kliniki.settings import ServiceSettings
from kliniki.worklist.service import Worklist


def create_app() -> FastAPI:
    settings = ServiceSettings(service_name="billing")
    # Loaded once at start: a malformed price list stops the service instead of misbilling.
    prices = PriceList.from_file(settings.price_list_file)
    billing = Billing(prices, Worklist(worklist_models, settings.staff_file))
    return create_department_app(
        settings,
        Base.metadata,
        billing.worklist,
        routers=[billing_router(billing)],
        subscriptions=billing_subscriptions(billing),
        description="Charges, the invoice of a visit, payments, closing the visit.",
    )
