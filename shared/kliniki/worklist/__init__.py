"""The department worklist every department service shares: assignments and the duty roster.

A department service completes the table mixins of ``kliniki.worklist.models`` on its own
declarative base in its models.py, builds a ``Worklist`` from them in its main.py and
includes ``worklist_router(...)`` in its app; the rules live in ``domain``, the data access
in ``service``, the HTTP surface in ``api``.
"""

from kliniki.worklist.models import (
    AssignmentTable,
    DutyShiftTable,
    PatientSnapshotTable,
    PatientVisitTable,
    WorklistModels,
)

__all__ = [
    "AssignmentTable",
    "DutyShiftTable",
    "PatientSnapshotTable",
    "PatientVisitTable",
    "WorklistModels",
]
