"""The notifier app: ``uvicorn --factory notifier.main:create_app``."""

from __future__ import annotations

from pathlib import Path

from fastapi.staticfiles import StaticFiles

from kliniki.app import ConsumerSpec, create_service_app
from notifier.api import notifications_router
from notifier.cluster import PresenceCluster, new_replica_id
from notifier.handlers import subscriptions
from notifier.hub import Hub
from notifier.live import NotificationTail, deliver_own_commits, live_tasks
from notifier.models import Base
from notifier.presence import PresenceBoard
from notifier.settings import NotifierSettings
from notifier.ws import SocketsFirst, socket_endpoint, websocket_router

STATIC = Path(__file__).resolve().parent / "static"


def create_app() -> SocketsFirst:
    settings = NotifierSettings()
    replica_id = new_replica_id()
    hub = Hub()
    tail = NotificationTail(hub, settings.live_poll_seconds)
    board = PresenceBoard(
        replica_id,
        typing_expiry=settings.typing_expiry_seconds,
        replica_expiry=settings.presence_replica_expiry_seconds,
        client_timeout=settings.presence_client_timeout_seconds,
    )
    cluster = PresenceCluster(board, settings)
    serve_socket = socket_endpoint(hub, board, tail, settings)
    app = create_service_app(
        settings,
        Base.metadata,
        routers=[notifications_router(), websocket_router(serve_socket)],
        consumers=[ConsumerSpec("notifications", subscriptions())],
        background=[*live_tasks(tail, replica_id), *cluster.background_tasks()],
        startup=[deliver_own_commits(tail)],
        description="Live notifications, presence and typing over WebSockets at /ws. "
        "The JavaScript client is at /static/kliniki-live.js.",
        app_class=SocketsFirst,
    )
    assert isinstance(app, SocketsFirst)
    app.socket_endpoint = serve_socket
    # The browser client: one file a department frontend includes (see the README).
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.state.hub = hub
    app.state.board = board
    app.state.replica_id = replica_id
    return app
