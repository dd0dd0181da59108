"""The daily outpatient report for the in-charge (``GET /reports/daily``).

Registration keeps the outpatient register (visits, ages), so the report lives here; what the
other departments know reaches it as events and is kept in a small read model (the
``report_*`` tables): the triage colour, each stage's arrival and hand-on, breached waiting
targets, diagnoses and payments. No request waits on another service.

A stage's *waiting time* is how long the patient was on that department's worklist: from the
assignment's creation until it was completed or cancelled (handed on).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.contracts import billing, clinical, triage
from kliniki.contracts.worklist import AssignmentEvent, WaitTimeExceeded
from kliniki.events import CloudEvent
from kliniki.schemas import ApiModel
from kliniki.uow import UnitOfWork
from registration.domain import age_band, percentile
from registration.models import (
    DiagnosisMade,
    Patient,
    PaymentTaken,
    StageWait,
    Visit,
    VisitTriage,
)

TOP_DIAGNOSES = 10


class StageWaiting(ApiModel):
    stage: str
    patients: int
    median_minutes: float | None
    p90_minutes: float | None
    targets_breached: int


class DiagnosisCount(ApiModel):
    code: str
    name: str
    visits: int


class PaymentsByMethod(ApiModel):
    payment_type: str
    payments: int
    total: Decimal


class DailyReport(ApiModel):
    date: dt.date
    time_zone: str
    visits_registered: int
    by_triage_colour: dict[str, int]
    by_age_band: dict[str, int]
    waiting: list[StageWaiting]
    top_diagnoses: list[DiagnosisCount]
    payments: list[PaymentsByMethod]


# -- keeping the read model (event handlers) --------------------------------------------------


async def record_colour(uow: UnitOfWork, event: CloudEvent, data: triage.TriageCompleted) -> None:
    statement = pg_insert(VisitTriage).values(
        visit_id=data.visit_id, triage_colour=data.triage_colour
    )
    await uow.session.execute(
        statement.on_conflict_do_update(
            index_elements=[VisitTriage.visit_id],
            set_={"triage_colour": statement.excluded.triage_colour},
        )
    )


# Built once with binds: it runs for every assignment event of every department.
_ARRIVAL = (
    pg_insert(StageWait)
    .values(
        assignment_id=bindparam("assignment_id"),
        visit_id=bindparam("visit_id"),
        stage=bindparam("stage"),
        arrived_at=bindparam("arrived_at"),
        breaches=0,
    )
    .on_conflict_do_nothing()
)


async def record_arrival(uow: UnitOfWork, event: CloudEvent, data: AssignmentEvent) -> None:
    await uow.session.execute(
        _ARRIVAL,
        {
            "assignment_id": data.id,
            "visit_id": data.visit_id,
            "stage": data.assignment_type,
            "arrived_at": data.created_at,
        },
    )


async def record_handed_on(uow: UnitOfWork, event: CloudEvent, data: AssignmentEvent) -> None:
    done = data.completed_at or event.time
    await record_arrival(uow, event, data)  # the creation may not have been heard (older visits)
    await uow.session.execute(
        update(StageWait).where(StageWait.assignment_id == data.id).values(done_at=done)
    )


async def record_breach(uow: UnitOfWork, event: CloudEvent, data: WaitTimeExceeded) -> None:
    if data.level != 1:  # a breach is counted once, at its first escalation
        return
    await uow.session.execute(
        update(StageWait)
        .where(StageWait.assignment_id == data.assignment_id)
        .values(breaches=StageWait.breaches + 1)
    )


async def record_diagnosis(
    uow: UnitOfWork, event: CloudEvent, data: clinical.DiagnosisAdded
) -> None:
    await uow.session.execute(
        pg_insert(DiagnosisMade)
        .values(
            diagnosis_id=data.diagnosis_id,
            visit_id=data.visit_id,
            code=data.diagnosis_code,
            name=data.diagnosis_name or data.diagnosis_code,
        )
        .on_conflict_do_nothing()
    )


async def record_payment(
    uow: UnitOfWork, event: CloudEvent, data: billing.PaymentCompleted
) -> None:
    await uow.session.execute(
        pg_insert(PaymentTaken)
        .values(
            payment_id=data.payment_id,
            visit_id=data.visit_id,
            payment_type=data.payment_type or "UNKNOWN",
            amount=data.amount,
            paid_at=event.time,
        )
        .on_conflict_do_nothing()
    )


# -- the report -------------------------------------------------------------------------------


async def daily_report(session: AsyncSession, day: dt.date, time_zone: str) -> DailyReport:
    """Visits registered on ``day`` (the clinic's day, in ``time_zone``) and what followed."""
    zone = ZoneInfo(time_zone)
    start = dt.datetime.combine(day, dt.time(), zone)
    end = start + dt.timedelta(days=1)
    visits = (
        await session.execute(
            select(Visit.id, Patient.age, VisitTriage.triage_colour)
            .join(Patient, Patient.id == Visit.patient_id)
            .outerjoin(VisitTriage, VisitTriage.visit_id == Visit.id)
            .where(Visit.opened_at >= start, Visit.opened_at < end)
        )
    ).all()
    visit_ids = [v.id for v in visits]
    waits = (
        await session.scalars(select(StageWait).where(StageWait.visit_id.in_(visit_ids)))
    ).all()
    by_stage: dict[str, list[float]] = defaultdict(list)
    breaches: Counter[str] = Counter()
    for wait in waits:
        breaches[wait.stage] += wait.breaches
        if wait.done_at is not None:
            by_stage[wait.stage].append((wait.done_at - wait.arrived_at).total_seconds() / 60)
    stages = sorted({w.stage for w in waits})
    diagnoses = Counter(
        (d.code, d.name)
        for d in (
            await session.scalars(
                select(DiagnosisMade).where(DiagnosisMade.visit_id.in_(visit_ids))
            )
        ).all()
    )
    payments: dict[str, list[Decimal]] = defaultdict(list)
    for payment in (
        await session.scalars(
            select(PaymentTaken).where(PaymentTaken.paid_at >= start, PaymentTaken.paid_at < end)
        )
    ).all():
        payments[payment.payment_type].append(payment.amount)
    return DailyReport(
        date=day,
        time_zone=time_zone,
        visits_registered=len(visits),
        by_triage_colour=dict(Counter(v.triage_colour or "UNTRIAGED" for v in visits)),
        by_age_band=dict(Counter(age_band(v.age) for v in visits)),
        waiting=[
            StageWaiting(
                stage=stage,
                patients=len(by_stage[stage]),
                median_minutes=_round(percentile(by_stage[stage], 0.5)),
                p90_minutes=_round(percentile(by_stage[stage], 0.9)),
                targets_breached=breaches[stage],
            )
            for stage in stages
        ],
        top_diagnoses=[
            DiagnosisCount(code=code, name=name, visits=count)
            for (code, name), count in diagnoses.most_common(TOP_DIAGNOSES)
        ],
        payments=[
            PaymentsByMethod(
                payment_type=method, payments=len(amounts), total=sum(amounts, Decimal(0))
            )
            for method, amounts in sorted(payments.items())
        ],
    )


def _round(value: float | None) -> float | None:
    return round(value, 1) if value is not None else None


def as_csv(report: DailyReport) -> str:
    """The report as ``section,item,value`` rows, for a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    rows: list[tuple[str, str, Any]] = [
        ("date", "", report.date.isoformat()),
        ("visits", "registered", report.visits_registered),
        *(("triageColour", k, v) for k, v in sorted(report.by_triage_colour.items())),
        *(("ageBand", k, v) for k, v in sorted(report.by_age_band.items())),
    ]
    for w in report.waiting:
        rows += [
            (
                "waitingMinutes",
                f"{w.stage} median",
                "" if w.median_minutes is None else w.median_minutes,
            ),
            ("waitingMinutes", f"{w.stage} p90", "" if w.p90_minutes is None else w.p90_minutes),
            ("targetsBreached", w.stage, w.targets_breached),
        ]
    rows += [("diagnosis", f"{d.code} {d.name}", d.visits) for d in report.top_diagnoses]
    for p in report.payments:
        rows += [
            ("payments", f"{p.payment_type} count", p.payments),
            ("payments", f"{p.payment_type} total", f"{p.total:.2f}"),
        ]
    writer.writerow(["section", "item", "value"])
    writer.writerows(rows)
    return out.getvalue()
