"""Triage's HTTP routes (the worklist's come from the shared kernel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from kliniki.access import Permission
from kliniki.auth import Principal
from kliniki.paging import PageQuery
from kliniki.web import UoW, answer, expected_version, require
from triage import service
from triage.schemas import EncounterOut, EncounterUpdate

ClinicalReader = Annotated[Principal, Depends(require(Permission.CLINICAL_READ))]
EncounterWriter = Annotated[Principal, Depends(require(Permission.ENCOUNTER_UPDATE))]


def triage_router() -> APIRouter:
    """Triage's encounters: read them, record vital signs, category and complaint."""
    router = APIRouter(tags=["encounters"])

    @router.get("/encounters", response_model=list[EncounterOut])
    async def find_encounters(
        principal: ClinicalReader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        visit_id: Annotated[str | None, Query(alias="visitId")] = None,
        patient_id: Annotated[str | None, Query(alias="patientId")] = None,
    ) -> JSONResponse:
        """A patient's or a visit's encounters (name one of them); each read is audited."""
        found = await service.find_encounters(uow.session, visit_id, patient_id, page)
        await uow.audit_reads("ENCOUNTER", found.items, details="GET /encounters")
        await uow.commit()
        return answer(principal, "ENCOUNTER", found.items, page=found, request=request)

    @router.get("/encounters/{encounter_id}", response_model=EncounterOut)
    async def read_encounter(
        encounter_id: str, principal: ClinicalReader, uow: UoW
    ) -> JSONResponse:
        """An encounter; the read is audited."""
        out = service.encounter_out(await service.get_encounter(uow.session, encounter_id))
        await uow.audit_reads("ENCOUNTER", out, details="GET /encounters/{id}")
        await uow.commit()
        return answer(principal, "ENCOUNTER", out)

    @router.patch("/encounters/{encounter_id}", response_model=EncounterOut)
    async def update_encounter(
        encounter_id: str,
        body: EncounterUpdate,
        principal: EncounterWriter,
        uow: UoW,
        request: Request,
    ) -> EncounterOut:
        """updatePatientEncounter: vital signs, triage category, chief complaint."""
        out = await service.update_encounter(
            uow, encounter_id, body, expected_version(request, body.version)
        )
        await uow.commit()
        return out

    return router
