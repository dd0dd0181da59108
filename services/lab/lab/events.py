"""The events the lab publishes: their models and routing keys
live in ``kliniki.contracts``, where publisher and consumers import them."""

from __future__ import annotations

from kliniki.contracts.lab import (
    LAB_REQUEST_COMPLETED,
    LAB_REQUEST_UPDATED,
    LabRequestCompleted,
    LabRequestUpdated,
)

__all__ = [
    "LAB_REQUEST_COMPLETED",
    "LAB_REQUEST_UPDATED",
    "LabRequestCompleted",
    "LabRequestUpdated",
]
