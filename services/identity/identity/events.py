"""The events identity publishes on ``identity.events``: their model and routing keys live in
``kliniki.contracts.identity``, where every service's staff directory imports them too."""

from __future__ import annotations

from kliniki.contracts.identity import (
    STAFF_CREATED,
    STAFF_DEACTIVATED,
    STAFF_EVENTS,
    STAFF_REACTIVATED,
    STAFF_UPDATED,
    StaffData,
)

__all__ = [
    "STAFF_CREATED",
    "STAFF_DEACTIVATED",
    "STAFF_EVENTS",
    "STAFF_REACTIVATED",
    "STAFF_UPDATED",
    "StaffData",
]
