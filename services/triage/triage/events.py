"""The events triage publishes (besides the worklist's ``assignment.*``): their models and
routing keys live in ``kliniki.contracts.triage``, where the consumers import them too."""

from __future__ import annotations

from kliniki.contracts.triage import (
    ENCOUNTER_UPDATED,
    TRIAGE_COMPLETED,
    EncounterUpdated,
    TriageCompleted,
)

__all__ = ["ENCOUNTER_UPDATED", "TRIAGE_COMPLETED", "EncounterUpdated", "TriageCompleted"]
