"""Worklist operations on a department's database: each one a change, its event and its audit."""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from kliniki.access import STAGE_ROLE, assignment_record
from kliniki.contracts import registration
from kliniki.contracts.worklist import assignment_key
from kliniki.db import load
from kliniki.directory import StaffMember
from kliniki.paging import Page, PageRequest, fetch_page
from kliniki.problems import Conflict, InvalidInput, check_version
from kliniki.staff import load_staff
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import (
    PRIORITY_RANK,
    AssignmentStatus,
    Candidate,
    Change,
    Priority,
    check_may_close,
    classify_change,
    pick_assignee,
)
from kliniki.worklist.models import AssignmentTable, PatientSnapshotTable, WorklistModels
from kliniki.worklist.schemas import AssignmentEvent, AssignmentOut, DutyOut, WorklistSummary

AssignmentHook = Callable[[UnitOfWork, AssignmentTable], Awaitable[None]]


def check_patient_visit(patient_id: str, visit_id: str, owner: str | None) -> None:
    """Refuse (422) a write naming a visit that is unknown, or another patient's."""
    if owner is None:
        raise InvalidInput("visitId", f"no visit {visit_id} is known to this department")
    if owner != patient_id:
        raise InvalidInput("visitId", f"visit {visit_id} is not a visit of patient {patient_id}")


class WorklistStatements:
    """The statements every patient placed on a worklist runs, built once with binds: built
    per call, each cost about 0.2 ms of CPU (bench/README.md, session 5)."""

    def __init__(self, models: WorklistModels) -> None:
        snap, visits = models.PatientSnapshot, models.PatientVisit
        shift, a = models.DutyShift, models.Assignment

        def snapshot_upsert(columns: tuple[str, ...]) -> Insert:
            statement = pg_insert(snap).values({c: bindparam(c) for c in columns})
            return statement.on_conflict_do_update(
                index_elements=[snap.patient_id],
                set_={c: statement.excluded[c] for c in columns if c != "patient_id"},
                where=snap.source_sequence < statement.excluded.source_sequence,
            )

        snapshot = (
            "patient_id",
            *("op_number", "first_name", "last_name", "gender", "age", "source_sequence"),
        )
        self.snapshot_upsert = snapshot_upsert(snapshot)
        visit_known = (
            pg_insert(visits)
            .values(visit_id=bindparam("current_visit_id"), patient_id=bindparam("patient_id"))
            .on_conflict_do_nothing()
        )
        self.snapshot_and_visit_upsert = snapshot_upsert((*snapshot, "current_visit_id")).add_cte(
            visit_known.cte("visit_known")
        )
        # The patient's snapshot and whose visit ``visit_id`` is (NULL: none asked), one query.
        owner = select(visits.patient_id).where(visits.visit_id == bindparam("visit_id"))
        self.snapshot_and_owner = select(snap, owner.scalar_subquery()).where(
            snap.patient_id == bindparam("patient_id")
        )
        self.assignment_insert = (
            pg_insert(a)
            .on_conflict_do_nothing(
                index_elements=[a.visit_id],
                # The partial index's own predicate, literally (a bound value would not match it).
                index_where=text("status = 'ACTIVE'"),
            )
            .returning(a)
        )
        # Who is on duty, each with their count of active assignments.
        self.on_duty = (
            select(shift.user_id, shift.name, func.count(a.id))
            .outerjoin(
                a,
                (a.assigned_to_user_id == shift.user_id)
                & (a.status == AssignmentStatus.ACTIVE.value),
            )
            .where(shift.on_duty)
            .group_by(shift.user_id, shift.name)
        )


class Worklist:
    def __init__(
        self,
        models: WorklistModels,
        staff_file: Path,
        on_completed: AssignmentHook | None = None,
        before_close: AssignmentHook | None = None,
    ) -> None:
        """``on_completed`` runs in the completing transaction: the department's handoff.
        ``before_close`` runs before an assignment is completed or cancelled, and may refuse
        (lab and pharmacy: not while the visit has open orders)."""
        self.on_completed = on_completed
        self.before_close = before_close
        self.models = models
        self.stage = models.stage
        self.role = STAGE_ROLE[models.stage]
        self.staff_file = staff_file
        self._statements = WorklistStatements(models)

    # -- reading -------------------------------------------------------------------------------

    async def list(
        self,
        session: AsyncSession,
        *,
        assigned_to: str | None = None,
        status: str | None = "ACTIVE",
        patient_id: str | None = None,
        visit_id: str | None = None,
        page: PageRequest,
    ) -> Page:
        """Urgent first, then in order of arrival: the order the department works in."""
        a = self.models.Assignment
        query = select(a)
        if patient_id:
            query = query.where(a.patient_id == patient_id)
        if visit_id:
            query = query.where(a.visit_id == visit_id)
        if status:
            query = query.where(a.status == status)
        if assigned_to:
            query = query.where(a.assigned_to_user_id == assigned_to)
        return await fetch_page(session, query, [a.priority_rank, a.created_at, a.id], page)

    async def summary(self, session: AsyncSession, user_id: str) -> WorklistSummary:
        """The counts a worklist header shows, in one query, however long the list is."""
        a = self.models.Assignment
        active = a.status == "ACTIVE"
        row = (
            await session.execute(
                select(
                    func.count().filter(active),
                    func.count().filter(active, a.priority == "URGENT"),
                    func.count().filter(active, a.assigned_to_user_id.is_(None)),
                    func.count().filter(active, a.assigned_to_user_id == user_id),
                    func.count().filter(active, a.escalation_level > 0),
                ).where(active)
            )
        ).one()
        return WorklistSummary(
            active=row[0], urgent=row[1], unassigned=row[2], mine=row[3], past_target=row[4]
        )

    async def get(
        self, session: AsyncSession, assignment_id: str, *, for_update: bool = False
    ) -> AssignmentTable:
        label = f"{self.stage.value} assignment"
        return await load(
            session, self.models.Assignment, assignment_id, label, for_update=for_update
        )

    async def roster(self, session: AsyncSession) -> builtins.list[DutyOut]:
        """Who is on the roster (a read: the roster was seeded at start-up, ``seed_roster``)."""
        counts = await self._active_counts(session)
        shifts = (await session.scalars(select(self.models.DutyShift).order_by("user_id"))).all()
        return [
            DutyOut(
                user_id=s.user_id,
                name=s.name,
                on_duty=s.on_duty,
                active_assignments=counts.get(s.user_id, 0),
            )
            for s in shifts
        ]

    async def remember_colour(
        self, session: AsyncSession, patient_id: str, visit_id: str, colour: str
    ) -> None:
        """The SATS colour triage gave the visit (sets this stage's waiting target)."""
        visits = self.models.PatientVisit
        statement = pg_insert(visits).values(
            visit_id=visit_id, patient_id=patient_id, triage_colour=colour
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=[visits.visit_id], set_={"triage_colour": colour}
            )
        )

    async def visit_owner(self, session: AsyncSession, visit_id: str) -> str | None:
        """The patient a visit belongs to, as registration's events told; None if unknown."""
        visit = await session.get(self.models.PatientVisit, visit_id)
        return visit.patient_id if visit is not None else None

    async def check_visit(self, session: AsyncSession, patient_id: str, visit_id: str) -> None:
        """Refuse (422) a visit that is not this patient's."""
        owner = await self.visit_owner(session, visit_id)
        if owner is None:
            raise InvalidInput("visitId", f"no visit {visit_id} is known to this department")
        if owner != patient_id:
            raise InvalidInput(
                "visitId", f"visit {visit_id} is not a visit of patient {patient_id}"
            )

    # -- changing ------------------------------------------------------------------------------

    async def place(
        self,
        uow: UnitOfWork,
        *,
        patient_id: str,
        visit_id: str | None,
        priority: Priority,
        assigned_to_user_id: str | None = None,
        notes: str | None = None,
        reason: str | None = None,
        cause: str = "created",
    ) -> tuple[AssignmentTable, bool]:
        """Put a patient on this worklist for a visit, once; True if a new assignment was made.

        A patient is on a department's worklist at most once per visit. When they already are
        (the handoff event and a colleague's explicit routing both arrived), the existing
        assignment is routed instead: to the named member, at the more urgent priority.
        """
        session = uow.session
        snapshot, owner = await self._snapshot_and_owner(session, patient_id, visit_id)
        if snapshot is None:
            raise InvalidInput(
                "patientId",
                f"patient {patient_id} is not known to {self.stage.value.lower()} yet "
                "(registration's event has not arrived, or the id is wrong)",
            )
        if visit_id is not None:
            check_patient_visit(patient_id, visit_id, owner)
        visit_id = visit_id or snapshot.current_visit_id
        created = await self._create(
            uow, snapshot, visit_id, priority, assigned_to_user_id, notes, reason, cause
        )
        if created is not None:
            return created, True
        # Already on the worklist for this visit (perhaps placed this very moment by another
        # transaction: the handoff event and a colleague's explicit routing raced): route it.
        existing = await self.active_for_visit(session, visit_id) if visit_id else None
        if existing is None:  # the one in the way was closed at this very moment
            raise Conflict("this patient's assignment here changed at the same moment; try again")
        await self._route(uow, existing, assigned_to_user_id, priority, notes, reason)
        return existing, False

    async def _snapshot_and_owner(
        self, session: AsyncSession, patient_id: str, visit_id: str | None
    ) -> tuple[PatientSnapshotTable | None, str | None]:
        """The patient's snapshot and whose visit ``visit_id`` is, in one query."""
        row = (
            await session.execute(
                self._statements.snapshot_and_owner,
                {"patient_id": patient_id, "visit_id": visit_id},
            )
        ).first()
        return (row[0], row[1]) if row is not None else (None, None)

    async def active_for_visit(
        self, session: AsyncSession, visit_id: str
    ) -> AssignmentTable | None:
        a = self.models.Assignment
        return await session.scalar(
            select(a)
            .where(a.visit_id == visit_id, a.status == AssignmentStatus.ACTIVE.value)
            .with_for_update()
        )

    async def _route(
        self,
        uow: UnitOfWork,
        assignment: AssignmentTable,
        assigned_to_user_id: str | None,
        priority: Priority,
        notes: str | None,
        reason: str | None,
    ) -> None:
        before = AssignmentOut.model_validate(assignment)
        previous = assignment.assigned_to_user_id
        change: Change | None = None
        if assigned_to_user_id and assigned_to_user_id != previous:
            member = await self._choose(uow.session, assigned_to_user_id)
            assert member is not None
            assignment.assigned_to_user_id, assignment.assigned_to_name = (
                member.user_id,
                member.name,
            )
            change = Change.CLAIMED if member.user_id == uow.actor_id else Change.TRANSFERRED
        if PRIORITY_RANK[priority] < assignment.priority_rank:
            assignment.priority, assignment.priority_rank = priority.value, PRIORITY_RANK[priority]
            change = change or Change.REPRIORITIZED
        if reason and assignment.reason != reason:
            assignment.reason = reason
            change = change or Change.REPRIORITIZED
        if notes and assignment.notes != notes:
            assignment.notes = notes
            change = change or Change.REPRIORITIZED
        if change is None:
            return
        await self._announce(uow, assignment, change, previous, before)

    async def _create(
        self,
        uow: UnitOfWork,
        snapshot: PatientSnapshotTable,
        visit_id: str | None,
        priority: Priority,
        assigned_to_user_id: str | None,
        notes: str | None,
        reason: str | None,
        cause: str,
    ) -> AssignmentTable | None:
        """The new assignment, or None when the visit already has an active one here."""
        session = uow.session
        assignee = await self._choose(session, assigned_to_user_id)
        # One statement, no savepoint: the unique index of active assignments per visit
        # decides, and a conflict returns no row instead of failing the transaction.
        assignment: AssignmentTable | None = await session.scalar(
            self._statements.assignment_insert,
            {
                "assignment_type": self.stage.value,
                "patient_id": snapshot.patient_id,
                "visit_id": visit_id,
                "reason": reason,
                "patient_name": snapshot.full_name,
                "op_number": snapshot.op_number,
                "priority": priority.value,
                "priority_rank": PRIORITY_RANK[priority],
                "status": AssignmentStatus.ACTIVE.value,
                "assigned_to_user_id": assignee.user_id if assignee else None,
                "assigned_to_name": assignee.name if assignee else None,
                "created_by": uow.actor_id,
                "notes": notes,
            },
        )
        if assignment is None:
            return None
        await self._publish(uow, assignment, "created", None)
        await uow.audit(
            "CREATE",
            "ASSIGNMENT",
            assignment.id,
            after=AssignmentOut.model_validate(assignment),
            details=f"{cause}; assigned to {assignee.user_id if assignee else 'shared queue'}",
        )
        return assignment

    async def update(
        self,
        uow: UnitOfWork,
        assignment_id: str,
        *,
        expected_version: int | None,
        fields: dict[str, Any],
        actor_roles: frozenset[str] | None = None,
    ) -> AssignmentTable:
        """Claim, transfer, return, complete, cancel or re-prioritise (``fields`` as sent).

        ``actor_roles`` are the roles of the person asking; None when the department itself
        closes an assignment (its last order was fulfilled).
        """
        session = uow.session
        assignment = await self.get(session, assignment_id, for_update=True)
        before = AssignmentOut.model_validate(assignment)
        check_version(
            expected_version,
            assignment.version,
            before.model_dump(mode="json", by_alias=True),
            assignment_record(self.stage),
        )
        change = classify_change(
            assignment.status,
            assignment.assigned_to_user_id,
            uow.actor_id,
            fields.get("status"),
            fields.get("assigned_to_user_id"),
            "assigned_to_user_id" in fields,
        )
        previous = assignment.assigned_to_user_id
        if change in (Change.CLAIMED, Change.TRANSFERRED):
            member = await self._choose(session, fields["assigned_to_user_id"])
            assert member is not None
            assignment.assigned_to_user_id = member.user_id
            assignment.assigned_to_name = member.name
        elif change is Change.RETURNED_TO_QUEUE:
            assignment.assigned_to_user_id = None
            assignment.assigned_to_name = None
        elif change in (Change.COMPLETED, Change.CANCELLED):
            if actor_roles is not None:
                check_may_close(previous, uow.actor_id, actor_roles, change.value)
            if self.before_close is not None:
                await self.before_close(uow, assignment)
            assignment.status = fields["status"]
            assignment.completed_at = dt.datetime.now(dt.UTC)
            if change is Change.COMPLETED and self.on_completed is not None:
                await self.on_completed(uow, assignment)
        if fields.get("priority"):
            assignment.priority = fields["priority"]
            assignment.priority_rank = PRIORITY_RANK[Priority(fields["priority"])]
        if "notes" in fields:
            assignment.notes = fields["notes"]
        await self._announce(uow, assignment, change, previous, before)
        return assignment

    async def withdraw(self, uow: UnitOfWork, visit_id: str, reason: str) -> None:
        """The visit was cancelled at the desk: its assignment here, if any, is cancelled."""
        assignment = await self.active_for_visit(uow.session, visit_id)
        if assignment is None:
            return
        before = AssignmentOut.model_validate(assignment)
        assignment.status = AssignmentStatus.CANCELLED.value
        assignment.completed_at = dt.datetime.now(dt.UTC)
        assignment.reason = reason
        await self._announce(
            uow,
            assignment,
            Change.CANCELLED,
            assignment.assigned_to_user_id,
            before,
            details="the visit was cancelled at the desk",
        )

    async def set_duty(self, uow: UnitOfWork, user_id: str, name: str, on_duty: bool) -> DutyOut:
        await self._ensure_roster(uow.session)
        shift = await uow.session.get(self.models.DutyShift, user_id)
        before = {"onDuty": shift.on_duty} if shift else None
        if shift is None:
            shift = self.models.DutyShift(user_id=user_id, name=name, on_duty=on_duty)
            uow.session.add(shift)
        shift.on_duty = on_duty
        await uow.session.flush()
        await uow.audit("UPDATE", "DUTY", user_id, before=before, after={"onDuty": on_duty})
        counts = await self._active_counts(uow.session)
        return DutyOut(
            user_id=user_id,
            name=shift.name,
            on_duty=on_duty,
            active_assignments=counts.get(user_id, 0),
        )

    async def on_staff_change(
        self, uow: UnitOfWork, member: StaffMember, before: StaffMember | None
    ) -> None:
        """Identity's staff events reach the roster: a new member of this department's role can
        go on duty at once; a leaver (deactivated, or no longer in the role) leaves the roster
        and their open assignments go back to the shared queue for someone on duty to claim."""
        session = uow.session
        shift = await session.get(self.models.DutyShift, member.user_id)
        if member.active and self.role.value in member.roles:
            if shift is None:
                session.add(
                    self.models.DutyShift(user_id=member.user_id, name=member.name, on_duty=False)
                )
            else:
                shift.name = member.name
            await session.flush()
            return
        if shift is not None:
            await session.delete(shift)
            await uow.audit(
                "DELETE",
                "DUTY",
                member.user_id,
                before={"onDuty": shift.on_duty},
                details="deactivated" if not member.active else f"no longer {self.role.value}",
            )
        a = self.models.Assignment
        open_ones = await session.scalars(
            select(a)
            .where(
                a.assigned_to_user_id == member.user_id,
                a.status == AssignmentStatus.ACTIVE.value,
            )
            .with_for_update()
        )
        for assignment in open_ones.all():
            before_out = AssignmentOut.model_validate(assignment)
            assignment.assigned_to_user_id = None
            assignment.assigned_to_name = None
            await self._announce(
                uow,
                assignment,
                Change.RETURNED_TO_QUEUE,
                member.user_id,
                before_out,
                details=f"{member.user_id} left the {self.role.value} roster",
            )

    async def remember_patient(
        self,
        session: AsyncSession,
        patient: registration.PatientData | registration.VisitData,
        visit_id: str | None,
        sequence: int,
    ) -> None:
        """Upsert the patient snapshot from a registration event; older events never win."""
        values: dict[str, Any] = {
            "patient_id": patient.patient_id,
            "op_number": patient.op_number,
            "first_name": patient.first_name,
            "last_name": patient.last_name,
            "gender": patient.gender,
            "age": patient.age,
            "source_sequence": sequence,
        }
        if visit_id is None:
            await session.execute(self._statements.snapshot_upsert, values)
        else:  # and whose visit it is, in the same statement: one round trip
            values["current_visit_id"] = visit_id
            await session.execute(self._statements.snapshot_and_visit_upsert, values)

    # -- internals -----------------------------------------------------------------------------

    async def _announce(
        self,
        uow: UnitOfWork,
        assignment: AssignmentTable,
        change: Change,
        previous: str | None,
        before: AssignmentOut,
        details: str | None = None,
    ) -> None:
        """Every change of an assignment: written, its ``assignment.<change>`` event, its audit."""
        await uow.session.flush()
        await self._publish(uow, assignment, change.value, previous)
        await uow.audit(
            change.name,
            "ASSIGNMENT",
            assignment.id,
            before=before,
            after=AssignmentOut.model_validate(assignment),
            details=details,
        )

    async def _publish(
        self, uow: UnitOfWork, assignment: AssignmentTable, change: str, previous: str | None
    ) -> None:
        data = AssignmentEvent.model_validate(
            {
                **AssignmentOut.model_validate(assignment).model_dump(),
                "change": change,
                "previous_assignee_user_id": previous,
            }
        )
        await uow.publish(
            assignment_key(change),
            data,
            subject=assignment.patient_id,
            visit_id=assignment.visit_id,
        )

    async def _choose(self, session: AsyncSession, user_id: str | None) -> Candidate | None:
        if user_id is not None:
            await self._ensure_roster(session)
            shift = await session.get(self.models.DutyShift, user_id)
            if shift is None:
                raise InvalidInput(
                    "assignedToUserId",
                    f"{user_id} is not on the {self.role.value} roster of this department",
                )
            counts = await self._active_counts(session)
            return Candidate(shift.user_id, shift.name, counts.get(shift.user_id, 0))
        on_duty = await self._on_duty(session)
        if not on_duty and await self._ensure_roster(session):  # seeded just now
            on_duty = await self._on_duty(session)
        return pick_assignee(on_duty)

    async def _on_duty(self, session: AsyncSession) -> builtins.list[Candidate]:
        """Who is on duty, each with their count of active assignments: one query (it runs
        for every patient placed)."""
        rows = await session.execute(self._statements.on_duty)
        return [Candidate(user_id, name, count) for user_id, name, count in rows.all()]

    async def _active_counts(self, session: AsyncSession) -> dict[str, int]:
        a = self.models.Assignment
        rows = await session.execute(
            select(a.assigned_to_user_id, func.count())
            .where(a.status == AssignmentStatus.ACTIVE.value, a.assigned_to_user_id.is_not(None))
            .group_by(a.assigned_to_user_id)
        )
        return {user: count for user, count in rows.all() if user is not None}

    async def seed_roster(self, session: AsyncSession) -> None:
        """At start-up: an empty roster is seeded from the staff directory, so that reading it
        never writes."""
        await self._ensure_roster(session)
        await session.commit()

    async def _ensure_roster(self, session: AsyncSession) -> bool:
        """Seed an empty roster from the staff directory (``deploy/staff.yaml``); True if it
        did."""
        shift = self.models.DutyShift
        if await session.scalar(select(func.count()).select_from(shift)):
            return False
        members = load_staff(self.staff_file).with_role(self.role.value)
        if not members:
            return False
        await session.execute(
            pg_insert(shift)
            .values([{"user_id": m.id, "name": m.name, "on_duty": m.on_duty} for m in members])
            .on_conflict_do_nothing()
        )
        return True
