"""Worklist request/response models and the data of the ``assignment.*`` events."""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from kliniki.schemas import ApiModel, ClinicalText, StrictApiModel
from kliniki.worklist.domain import AssignmentStatus, Priority


class AssignmentOut(ApiModel):
    id: str
    assignment_type: str
    patient_id: str
    visit_id: str | None
    patient_name: str
    op_number: str | None
    priority: Priority
    status: AssignmentStatus
    assigned_to_user_id: str | None
    assigned_to_name: str | None
    created_by: str
    notes: ClinicalText = None
    reason: ClinicalText = None
    escalation_level: int = Field(
        default=0, description="1 once the patient waited past their target here, 2 past twice"
    )
    created_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None
    version: int


class AssignmentCreate(StrictApiModel):
    patient_id: str = Field(min_length=1, max_length=64)
    visit_id: str | None = Field(default=None, max_length=64)
    assigned_to_user_id: str | None = Field(
        default=None, max_length=64, description="Omit to give it to the least busy on duty."
    )
    assignment_type: str | None = Field(
        default=None, description="The department's stage; optional, checked when given."
    )
    priority: Priority = Priority.NORMAL
    notes: str | None = Field(default=None, max_length=2000)


class AssignmentUpdate(StrictApiModel):
    """Claim (assignedToUserId = you), transfer (someone else), return to the queue (null),
    complete or cancel (status), or change priority. Name the version you read."""

    status: AssignmentStatus | None = None
    assigned_to_user_id: str | None = Field(default=None, max_length=64)
    priority: Priority | None = None
    notes: str | None = Field(default=None, max_length=2000)
    version: int | None = Field(default=None, description="Or send If-Match.")


class AssignmentEvent(AssignmentOut):
    """``assignment.<change>`` data: the assignment after the change, and who had it before."""

    change: str
    previous_assignee_user_id: str | None = None


class WorklistSummary(ApiModel):
    """What a worklist's header counts: the whole list, not the page shown."""

    active: int = Field(description="Patients on this worklist now")
    urgent: int = Field(description="Of them, URGENT")
    unassigned: int = Field(description="Of them, waiting in the shared queue for someone")
    mine: int = Field(description="Of them, assigned to you")
    past_target: int = Field(description="Of them, waited past their triage colour's target")


class DutyOut(ApiModel):
    user_id: str
    name: str
    on_duty: bool
    active_assignments: int = 0


class DutyUpdate(StrictApiModel):
    on_duty: bool
    user_id: str | None = Field(default=None, description="Admins only: someone else's duty.")
