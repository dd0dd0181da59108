"""Waiting-time escalation: a patient waiting at a stage past their SATS colour's target.

Each department looks, every ``escalation_poll_seconds``, for its ACTIVE assignments whose
patient has waited longer than the target of the visit's colour (``wait_target_minutes``;
UNTRIAGED before triage has spoken), once past the target and again past twice the target.
The due time is computed in the database from the assignment's ``created_at`` and its
``escalation_level``: no in-process timer, so a restart loses nothing, and rows taken
``FOR UPDATE SKIP LOCKED`` with the level raised in the same transaction as the
``wait_time.exceeded`` event mean several replicas send each escalation once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Any

from sqlalchemy import case, func, literal, or_, select

from kliniki.access import Stage
from kliniki.contracts.worklist import WAIT_TIME_EXCEEDED, WaitTimeExceeded
from kliniki.kernel import Kernel
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import AssignmentStatus
from kliniki.worklist.models import AssignmentTable
from kliniki.worklist.service import Worklist

log = logging.getLogger(__name__)

UNTRIAGED = "UNTRIAGED"
MAX_LEVEL = 2  # past the target, then past twice the target
BATCH = 50


def target_minutes(targets: dict[str, float], stage: Stage, colour: str | None) -> float:
    """The stage's target for a visit of ``colour`` (the first stage has its own)."""
    if stage is Stage.TRIAGE or colour is None or colour not in targets:
        return targets[UNTRIAGED]
    return targets[colour]


def escalator(worklist: Worklist) -> Any:
    """The department's background task (``create_service_app(background=...)``)."""

    async def escalate_waits(kernel: Kernel) -> None:
        settings = kernel.settings
        while True:
            await asyncio.sleep(settings.escalation_poll_seconds)
            try:
                while await escalate_due(kernel, worklist) == BATCH:
                    pass
            except asyncio.CancelledError:
                raise
            except Exception:  # the database away, say: try again at the next poll
                log.exception("waiting-time escalation failed; trying again shortly")

    return escalate_waits


async def escalate_due(kernel: Kernel, worklist: Worklist) -> int:
    """Escalate every assignment due now, in one transaction; return how many."""
    a, visits = worklist.models.Assignment, worklist.models.PatientVisit
    targets = kernel.settings.wait_target_minutes
    stage = worklist.stage
    by_colour = [(c, m) for c, m in targets.items() if c != UNTRIAGED]
    colour_target: Any = literal(float(targets[UNTRIAGED]))
    if stage is not Stage.TRIAGE and by_colour:
        colour_target = case(
            *((visits.triage_colour == c, literal(float(m))) for c, m in by_colour),
            else_=colour_target,
        )
    # Due at target x (level + 1); a zero target (RED) escalates once, at once.
    seconds = colour_target * 60 * (a.escalation_level + 1)
    due_at = a.created_at + func.make_interval(0, 0, 0, 0, 0, 0, seconds)
    async with kernel.unit_of_work("system:escalation") as uow:
        rows = (
            await uow.session.execute(
                select(a, visits.triage_colour)
                .outerjoin(visits, visits.visit_id == a.visit_id)
                .where(
                    a.status == AssignmentStatus.ACTIVE.value,
                    a.escalation_level < MAX_LEVEL,
                    or_(colour_target > 0, a.escalation_level == 0),
                    due_at <= func.now(),
                )
                .order_by(a.created_at)
                .limit(BATCH)
                .with_for_update(of=a, skip_locked=True)
            )
        ).all()
        now = dt.datetime.now(dt.UTC)
        for assignment, colour in rows:
            await _escalate(uow, worklist, assignment, colour, targets, now)
        await uow.commit()
    return len(rows)


async def _escalate(
    uow: UnitOfWork,
    worklist: Worklist,
    assignment: AssignmentTable,
    colour: str | None,
    targets: dict[str, float],
    now: dt.datetime,
) -> None:
    assignment.escalation_level += 1
    target = target_minutes(targets, worklist.stage, colour)
    waited = (now - assignment.created_at).total_seconds() / 60
    data = WaitTimeExceeded(  # the contract's model: the producer is checked as it publishes
        assignment_id=assignment.id,
        patient_id=assignment.patient_id,
        visit_id=assignment.visit_id,
        patient_name=assignment.patient_name,
        op_number=assignment.op_number,
        stage=worklist.stage.value,
        colour=colour if worklist.stage is not Stage.TRIAGE else None,
        minutes_waited=round(waited, 1),
        target_minutes=target,
        level=assignment.escalation_level,
        assigned_to_user_id=assignment.assigned_to_user_id,
    )
    await uow.publish(
        WAIT_TIME_EXCEEDED, data, subject=assignment.patient_id, visit_id=assignment.visit_id
    )
    await uow.audit(
        "ESCALATE",
        "ASSIGNMENT",
        assignment.id,
        details=f"waited {data.minutes_waited} min at {worklist.stage.value} "
        f"(target {target} min, escalation {assignment.escalation_level})",
    )
