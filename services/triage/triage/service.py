"""Triage's use cases: open the encounter at intake, record findings, hand over at completion."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.contracts.triage import VitalSignsOut
from kliniki.db import load
from kliniki.measurements import Quantity
from kliniki.paging import Page, PageRequest, fetch_page, require_patient_or_visit
from kliniki.problems import Conflict, InvalidInput
from kliniki.records import edit, editing
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import priority_of
from kliniki.worklist.models import AssignmentTable
from triage import events
from triage.domain import (
    CATEGORY_COLOUR,
    VITAL_SIGNS,
    TriageCategory,
    VitalSignError,
    parse_vital_signs,
    suggested_category,
    tews_score,
)
from triage.models import Encounter
from triage.schemas import EncounterOut, EncounterUpdate

# Where each vital sign lives in the encounter table.
COLUMNS = {
    "temperature": "temperature_c",
    "pulse": "pulse_per_min",
    "respiratoryRate": "respiratory_rate_per_min",
    "oxygenSaturation": "oxygen_saturation_percent",
    "weight": "weight_kg",
}


def vital_signs_out(encounter: Encounter) -> VitalSignsOut:
    out: dict[str, Any] = {}
    if encounter.systolic_mmhg is not None and encounter.diastolic_mmhg is not None:
        out["blood_pressure"] = {
            "systolic": encounter.systolic_mmhg,
            "diastolic": encounter.diastolic_mmhg,
            "text": f"{encounter.systolic_mmhg:g}/{encounter.diastolic_mmhg:g}",
        }
    for name, column in COLUMNS.items():
        value = getattr(encounter, column)
        if value is not None:
            snake = {"respiratoryRate": "respiratory_rate", "oxygenSaturation": "oxygen_saturation"}
            out[snake.get(name, name)] = Quantity(value, VITAL_SIGNS[name].unit).as_dict()
    return VitalSignsOut.model_validate(out)


def encounter_out(encounter: Encounter) -> EncounterOut:
    suggestion = (
        suggested_category(encounter.tews_score) if encounter.tews_score is not None else None
    )
    return EncounterOut.model_validate(
        {
            **{c.key: getattr(encounter, c.key) for c in Encounter.__table__.columns},
            "vital_signs": vital_signs_out(encounter),
            "suggested_category": suggestion,
        }
    )


async def open_encounter(session: AsyncSession, patient_id: str, visit_id: str) -> None:
    """Every visit on the triage worklist has an encounter to record findings in (one
    statement: the visit's existing encounter is kept)."""
    await session.execute(
        pg_insert(Encounter)
        .values(patient_id=patient_id, visit_id=visit_id)
        .on_conflict_do_nothing(index_elements=[Encounter.visit_id])
    )


async def get_encounter(
    session: AsyncSession, encounter_id: str, *, for_update: bool = False
) -> Encounter:
    return await load(session, Encounter, encounter_id, "encounter", for_update=for_update)


async def find_encounters(
    session: AsyncSession, visit_id: str | None, patient_id: str | None, page: PageRequest
) -> Page:
    """A patient's (or a visit's) encounters, newest first."""
    require_patient_or_visit(patient_id, visit_id, "encounters")
    query = select(Encounter)
    if visit_id:
        query = query.where(Encounter.visit_id == visit_id)
    if patient_id:
        query = query.where(Encounter.patient_id == patient_id)
    found = await fetch_page(
        session, query, [Encounter.created_at, Encounter.id], page, descending=True
    )
    return Page([encounter_out(e) for e in found.items], found.next_cursor)


async def update_encounter(
    uow: UnitOfWork, encounter_id: str, body: EncounterUpdate, expected_version: int | None
) -> EncounterOut:
    change = await edit(uow, Encounter, encounter_id, "encounter", encounter_out, "ENCOUNTER")
    encounter = change.record
    change.check_version(expected_version)
    if encounter.status == "COMPLETED":
        # Consultation already works from these findings (its priority came from them).
        raise Conflict(
            "triage of this visit is completed and handed to consultation; the findings can "
            "no longer change here (the clinician records what changed)",
            current=change.current,
        )
    changed: list[str] = []
    if body.vital_signs is not None:
        try:
            vitals = parse_vital_signs(body.vital_signs)
        except VitalSignError as exc:
            raise InvalidInput(exc.field, str(exc)) from exc
        if vitals.systolic is not None:
            encounter.systolic_mmhg, encounter.diastolic_mmhg = vitals.systolic, vitals.diastolic
        for name, value in vitals.values.items():
            setattr(encounter, COLUMNS[name], value)
        encounter.tews_score = tews_score(
            encounter.respiratory_rate_per_min,
            encounter.pulse_per_min,
            encounter.systolic_mmhg,
            encounter.temperature_c,
        )
        changed.append("vitalSigns")
    if body.triage_category is not None:
        encounter.triage_category = body.triage_category.value
    if body.triage_colour is not None:
        encounter.triage_colour = body.triage_colour.value
        changed.append("triageCategory")
    if body.chief_complaint is not None:
        encounter.chief_complaint = body.chief_complaint
        changed.append("chiefComplaint")
    if not changed:
        raise InvalidInput("body", "send vitalSigns, triageCategory or chiefComplaint")
    encounter.recorded_by = uow.actor_id
    return await change.save(
        "UPDATE",
        event=events.ENCOUNTER_UPDATED,
        data=lambda after: events.EncounterUpdated.model_validate(
            {
                **after.model_dump(),
                "encounter_id": encounter.id,
                "updated_by": uow.actor_id,
                "changed_fields": changed,
            }
        ),
    )


async def complete_triage(uow: UnitOfWork, assignment: AssignmentTable) -> None:
    """The TRIAGE assignment is completed: close the encounter and hand the patient over."""
    encounter = await uow.session.scalar(
        select(Encounter).where(Encounter.visit_id == assignment.visit_id).with_for_update()
    )
    if encounter is None or encounter.triage_category is None:
        raise InvalidInput(
            "triageCategory", "record the triage category on the encounter before completing triage"
        )
    change = editing(uow, encounter, encounter_out, "ENCOUNTER")
    category = TriageCategory(encounter.triage_category)
    encounter.status = "COMPLETED"
    encounter.completed_by = uow.actor_id
    encounter.completed_at = completed_at = dt.datetime.now(dt.UTC)

    def handed_over(after: EncounterOut) -> events.TriageCompleted:
        return events.TriageCompleted(
            encounter_id=encounter.id,
            patient_id=encounter.patient_id,
            visit_id=encounter.visit_id,
            triage_category=category.value,
            triage_colour=encounter.triage_colour or CATEGORY_COLOUR[category].value,
            priority=priority_of(category).value,  # emergencies and urgent cases go first
            chief_complaint=encounter.chief_complaint,
            vital_signs=after.vital_signs,
            completed_by=uow.actor_id,
            completed_at=completed_at,
        )

    await change.save("COMPLETE", event=events.TRIAGE_COMPLETED, data=handed_over)
