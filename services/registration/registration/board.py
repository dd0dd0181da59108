"""Today's visits board at the front desk (``GET /visit-board``): each visit's status and who
has the patient now.

Registration knows a visit's status; who holds the patient is each department's worklist. The
departments' ``assignment.*`` events already feed the daily report's ``report_stage_waits``
(one row per assignment), so the same rows also keep the assignment's current holder and its
waiting-time escalation (``wait_time.exceeded``). A stage still open (not handed on) with
nobody assigned is the department's shared queue. No request waits on another service.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from kliniki.contracts.worklist import AssignmentEvent, WaitTimeExceeded
from kliniki.events import CloudEvent
from kliniki.paging import Page, PageRequest, fetch_page
from kliniki.schemas import ApiModel
from kliniki.uow import UnitOfWork
from registration.domain import PaymentStatus, VisitStatus
from registration.models import Patient, StageWait, Visit


class BoardStage(ApiModel):
    """A department the patient is at now: with someone, or waiting in its shared queue."""

    stage: str
    assigned_to_user_id: str | None
    assigned_to_name: str | None
    escalation_level: int
    since: dt.datetime


class BoardVisit(ApiModel):
    id: str
    patient_id: str
    patient_name: str
    op_number: str
    status: VisitStatus
    payment_status: PaymentStatus
    opened_at: dt.datetime
    stages: list[BoardStage]


# -- keeping the holder (event handlers; report.py keeps arrival and hand-on) ----------------


def _holder_upsert() -> Insert:
    statement = pg_insert(StageWait).values(
        assignment_id=bindparam("assignment_id"),
        visit_id=bindparam("visit_id"),
        stage=bindparam("stage"),
        arrived_at=bindparam("arrived_at"),
        breaches=0,
        assigned_to_user_id=bindparam("assigned_to_user_id"),
        assigned_to_name=bindparam("assigned_to_name"),
        escalation_level=bindparam("escalation_level"),
        assignment_version=bindparam("assignment_version"),
    )
    excluded = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[StageWait.assignment_id],
        set_={
            "assigned_to_user_id": excluded.assigned_to_user_id,
            "assigned_to_name": excluded.assigned_to_name,
            "escalation_level": func.greatest(
                StageWait.escalation_level, excluded.escalation_level
            ),
            "assignment_version": excluded.assignment_version,
        },
        # Redelivered or overtaken: an older version never overwrites a newer one.
        where=StageWait.assignment_version < excluded.assignment_version,
    )


_HOLDER = _holder_upsert()  # built once: it runs for every assignment event


async def record_holder(uow: UnitOfWork, event: CloudEvent, data: AssignmentEvent) -> None:
    """``assignment.<change>``: who has the assignment now (None: the shared queue)."""
    await uow.session.execute(
        _HOLDER,
        {
            "assignment_id": data.id,
            "visit_id": data.visit_id,
            "stage": data.assignment_type,
            "arrived_at": data.created_at,
            "assigned_to_user_id": data.assigned_to_user_id,
            "assigned_to_name": data.assigned_to_name,
            "escalation_level": data.escalation_level,
            "assignment_version": data.version,
        },
    )


async def record_escalation(uow: UnitOfWork, event: CloudEvent, data: WaitTimeExceeded) -> None:
    """``wait_time.exceeded``: the board shows the stage past its target (level 1 or 2)."""
    await uow.session.execute(
        update(StageWait)
        .where(StageWait.assignment_id == data.assignment_id)
        .values(escalation_level=func.greatest(StageWait.escalation_level, data.level))
    )


# -- the board -------------------------------------------------------------------------------


async def visits_board(
    session: AsyncSession, day: dt.date, time_zone: str, page: PageRequest
) -> Page:
    """Visits opened on ``day`` (the clinic's day), newest first, with their open stages."""
    start = dt.datetime.combine(day, dt.time(), ZoneInfo(time_zone))
    end = start + dt.timedelta(days=1)
    found = await fetch_page(
        session,
        select(Visit).where(Visit.opened_at >= start, Visit.opened_at < end),
        [Visit.opened_at, Visit.id],
        page,
        descending=True,
    )
    visits: list[Visit] = found.items
    ids = [v.id for v in visits]
    names = dict(
        (
            await session.execute(
                select(Patient.id, Patient.first_name + " " + Patient.last_name).where(
                    Patient.id.in_({v.patient_id for v in visits})
                )
            )
        )
        .tuples()
        .all()
    )
    stages: dict[str, list[BoardStage]] = {visit_id: [] for visit_id in ids}
    for wait in (
        await session.scalars(
            select(StageWait)
            .where(StageWait.visit_id.in_(ids), StageWait.done_at.is_(None))
            .order_by(StageWait.arrived_at)
        )
    ).all():
        stages[wait.visit_id or ""].append(
            BoardStage(
                stage=wait.stage,
                assigned_to_user_id=wait.assigned_to_user_id,
                assigned_to_name=wait.assigned_to_name,
                escalation_level=wait.escalation_level,
                since=wait.arrived_at,
            )
        )
    return Page(
        [
            BoardVisit(
                id=v.id,
                patient_id=v.patient_id,
                patient_name=names.get(v.patient_id, ""),
                op_number=v.op_number,
                status=VisitStatus(v.status),
                payment_status=PaymentStatus(v.payment_status),
                opened_at=v.opened_at,
                stages=stages[v.id] if v.status not in CLOSED else [],
            )
            for v in visits
        ],
        found.next_cursor,
    )


# A closed visit is with nobody, whatever a late assignment event says.
CLOSED = {VisitStatus.COMPLETED.value, VisitStatus.CANCELLED.value}
