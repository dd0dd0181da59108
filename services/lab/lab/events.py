"""The events the lab publishes (besides the worklist's): their models and routing keys live
in ``kliniki.contracts.lab``, where the consumers import them too."""

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
