"""The events the lab publishes on ``lab.events`` (besides the worklist's), data version 1."""

from __future__ import annotations

import datetime as dt
from typing import Any

from kliniki.contracts import Contract
from kliniki.schemas import ApiModel

LAB_REQUEST_UPDATED = "lab_request.updated"  # work started or some results entered
LAB_REQUEST_COMPLETED = "lab_request.completed"  # results reported to the clinician


class ReferenceRange(ApiModel):
    low: float | None = None
    high: float | None = None
    unit: str | None = None
    critical_low: float | None = None
    critical_high: float | None = None


class LabResult(ApiModel):
    """A value in both forms: ``value`` + ``unit`` (2.5, "ng/mL") and ``text`` ("2.5 ng/mL")."""

    analyte: str
    name: str
    value: float | str  # a number, or the answer of a qualitative test (POSITIVE)
    unit: str | None = None
    text: str
    reference_range: ReferenceRange | None = None  # none for qualitative tests
    flag: str  # NORMAL / LOW / HIGH / CRITICAL_LOW / CRITICAL_HIGH / ABNORMAL
    abnormal: bool
    critical: bool


class LabRequestUpdated(ApiModel):
    """Progress only: results reach clinicians when reported (``lab_request.completed``)."""

    lab_request_id: str
    patient_id: str
    visit_id: str
    test_type: str
    status: str
    changed_fields: list[str]
    updated_by: str
    version: int


class LabRequestCompleted(ApiModel):
    lab_request_id: str
    patient_id: str
    visit_id: str
    patient_name: str
    op_number: str | None = None
    test_type: str
    test_name: str
    results: list[LabResult]
    critical: bool
    urgency: str  # URGENT when critical or ordered urgent
    notes: str | None = None
    requested_by: str
    completed_by: str
    completed_at: dt.datetime
    version: int

    @property
    def order_id(self) -> str:  # the order's id, whichever kind (kliniki.worklist.orders)
        return self.lab_request_id


CONTRACTS: list[Contract[Any]] = [
    Contract(
        "lab",
        LAB_REQUEST_UPDATED,
        LabRequestUpdated,
        "work started or some results entered; the values travel only when reported",
    ),
    Contract("lab", LAB_REQUEST_COMPLETED, LabRequestCompleted, "results reported"),
]
