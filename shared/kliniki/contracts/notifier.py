"""What the notifier publishes on ``notifier.events``: internal, the fan-out of stored
notifications to every notifier replica (each delivers them to its own sockets)."""

from __future__ import annotations

from typing import Any

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel

NOTIFICATION_CREATED = "notification.created"


class StoredNotification(ApiModel):
    id: int
    event: str  # the frame's name
    data: dict[str, Any]
    recipient_user_id: str | None = None
    recipient_roles: list[str] | None = None
    written_at: str  # when the change was made at its source (live latency is measured from it)
    traceparent: str | None = None


class NotificationCreated(ApiModel):
    notifications: list[StoredNotification]


CONTRACTS: list[Contract[Any]] = [
    Contract("notifier", NOTIFICATION_CREATED, NotificationCreated, "internal fan-out")
]
