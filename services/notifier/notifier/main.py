"""The notifier app: ``uvicorn --factory notifier.main:create_app``."""

from __future__ import annotations

from fastapi import FastAPI

from kliniki.app import ConsumerSpec, create_service_app
from kliniki.settings import ServiceSettings
from notifier.api import router
from notifier.handlers import subscriptions
from notifier.hub import Hub
from notifier.live import live_fanout
from notifier.models import Base
from notifier.ws import websocket_router


def create_app() -> FastAPI:
    hub = Hub()
    app = create_service_app(
        ServiceSettings(service_name="notifier"),
        Base.metadata,
        routers=[router, websocket_router(hub)],
        consumers=[ConsumerSpec("notifications", subscriptions())],
        background=[live_fanout(hub)],
        description="Live notifications, presence and typing over WebSockets at /ws.",
    )
    app.state.hub = hub
    return app
