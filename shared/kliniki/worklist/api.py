"""The worklist's HTTP surface, the same in every department (README: "The visit, department
by department")."""

# No "from __future__ import annotations": FastAPI must see the closure-local Annotated aliases.

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from kliniki.access import Permission, allowed, assignment_record
from kliniki.auth import Principal
from kliniki.directory import StaffDirectory
from kliniki.paging import PageQuery
from kliniki.problems import Forbidden, InvalidInput
from kliniki.web import UoW, answer, expected_version, get_kernel, idempotent_create, require
from kliniki.worklist.schemas import (
    AssignmentCreate,
    AssignmentOut,
    AssignmentUpdate,
    DutyOut,
    DutyUpdate,
    WorklistSummary,
)
from kliniki.worklist.service import Worklist


def worklist_router(worklist: Worklist) -> APIRouter:
    stage = worklist.stage
    kind = assignment_record(stage)  # what of it only clinical readers see (kliniki.access)
    router = APIRouter(tags=["worklist"])
    Reader = Annotated[Principal, Depends(require(Permission.WORKLIST_READ, stage))]
    Creator = Annotated[Principal, Depends(require(Permission.ASSIGNMENT_CREATE, stage))]
    Updater = Annotated[Principal, Depends(require(Permission.ASSIGNMENT_UPDATE, stage))]
    DutySetter = Annotated[Principal, Depends(require(Permission.DUTY_SET_OWN, stage))]

    @router.get("/assignments", response_model=list[AssignmentOut], summary=f"The {stage} worklist")
    async def list_assignments(
        principal: Reader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        mine: Annotated[bool, Query(description="Only assignments given to me")] = False,
        status: Annotated[
            str, Query(pattern="^(ACTIVE|COMPLETED|CANCELLED|ALL)$", description="ALL: any")
        ] = "ACTIVE",
        patient_id: Annotated[str | None, Query(alias="patientId")] = None,
        visit_id: Annotated[str | None, Query(alias="visitId")] = None,
    ) -> JSONResponse:
        found = await worklist.list(
            uow.session,
            assigned_to=principal.user_id if mine else None,
            status=None if status == "ALL" else status,
            patient_id=patient_id,
            visit_id=visit_id,
            page=page,
        )
        rows = [AssignmentOut.model_validate(r) for r in found.items]
        return answer(principal, kind, rows, page=found, request=request)

    # Declared before /assignments/{assignment_id}, which would otherwise take "summary" as an id.
    @router.get(
        "/assignments/summary",
        response_model=WorklistSummary,
        summary=f"The {stage} worklist's counts (one query, whatever the page size)",
    )
    async def summarise_assignments(principal: Reader, uow: UoW) -> WorklistSummary:
        return await worklist.summary(uow.session, principal.user_id)

    @router.get("/assignments/{assignment_id}", response_model=AssignmentOut)
    async def get_assignment(assignment_id: str, principal: Reader, uow: UoW) -> JSONResponse:
        assignment = await worklist.get(uow.session, assignment_id)
        return answer(principal, kind, AssignmentOut.model_validate(assignment))

    @router.post(
        "/assignments",
        response_model=AssignmentOut,
        status_code=201,
        summary="Put a patient on this worklist (201), or route them if already on it (200)",
    )
    async def create_assignment(
        body: AssignmentCreate, principal: Creator, uow: UoW, request: Request
    ) -> JSONResponse:
        if body.assignment_type and body.assignment_type != stage.value:
            raise InvalidInput(
                "assignmentType", f"this is the {stage.value} worklist; send it to that department"
            )

        async def create() -> tuple[AssignmentOut, int]:
            assignment, created = await worklist.place(
                uow,
                patient_id=body.patient_id,
                visit_id=body.visit_id,
                priority=body.priority,
                assigned_to_user_id=body.assigned_to_user_id,
                notes=body.notes,
            )
            return AssignmentOut.model_validate(assignment), 201 if created else 200

        return await idempotent_create(request, uow, create, kind=kind)

    @router.patch("/assignments/{assignment_id}", response_model=AssignmentOut)
    async def update_assignment(
        assignment_id: str, body: AssignmentUpdate, principal: Updater, uow: UoW, request: Request
    ) -> JSONResponse:
        fields = body.model_dump(exclude_unset=True, exclude={"version"})
        if not fields:
            raise InvalidInput(
                "body", "name at least one of status, assignedToUserId, priority, notes"
            )
        assignment = await worklist.update(
            uow,
            assignment_id,
            expected_version=expected_version(request, body.version),
            fields=fields,
            actor_roles=principal.roles,
        )
        await uow.commit()
        return answer(principal, kind, AssignmentOut.model_validate(assignment))

    @router.get("/duty", response_model=list[DutyOut], summary="Who is on duty")
    async def get_duty(principal: Reader, uow: UoW) -> list[DutyOut]:
        return await worklist.roster(uow.session)

    @router.post("/duty", response_model=DutyOut, summary="Go on or off duty")
    async def set_duty(
        body: DutyUpdate, principal: DutySetter, uow: UoW, request: Request
    ) -> DutyOut:
        user_id = body.user_id or principal.user_id
        if user_id != principal.user_id and not allowed(principal.roles, Permission.DUTY_SET_ANY):
            raise Forbidden("only an admin may put someone else on or off duty")
        if user_id == principal.user_id and worklist.role.value not in principal.roles:
            raise Forbidden(f"only a {worklist.role.value} can be on this department's roster")
        name = principal.name
        if user_id != principal.user_id:
            directory = get_kernel(request).directory
            member = (
                await directory.get(uow.session, user_id)
                if isinstance(directory, StaffDirectory)
                else None
            )
            if member is None or not member.active or worklist.role.value not in member.roles:
                raise InvalidInput(
                    "userId", f"{user_id} is not an active {worklist.role.value} of the staff"
                )
            name = member.name
        duty = await worklist.set_duty(uow, user_id, name, body.on_duty)
        await uow.commit()
        return duty

    return router
