"""The lab's HTTP routes (the worklist's come from the shared kernel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from kliniki.access import Permission
from kliniki.auth import Principal
from kliniki.paging import PageQuery
from kliniki.web import UoW, answer, current_principal, expected_version, require
from kliniki.worklist.service import Worklist
from lab import service
from lab.domain import Catalogue, LabRequestStatus
from lab.schemas import LabRequestOut, LabRequestUpdate, LabTestOut

# Results are clinical data: the front desk and the till never read them.
ClinicalReader = Annotated[Principal, Depends(require(Permission.CLINICAL_READ))]
ResultEnterer = Annotated[Principal, Depends(require(Permission.LAB_RESULT_ENTER))]
Staff = Annotated[Principal, Depends(current_principal)]


def lab_router(worklist: Worklist, catalogue: Catalogue) -> APIRouter:
    router = APIRouter()

    @router.get("/lab-tests", response_model=list[LabTestOut], tags=["catalogue"])
    async def list_lab_tests(principal: Staff) -> list[LabTestOut]:
        """The tests the lab does, their analytes, units, reference and critical ranges."""
        return service.catalogue_out(catalogue)

    @router.get("/lab-requests", response_model=list[LabRequestOut], tags=["lab requests"])
    async def list_lab_requests(
        principal: ClinicalReader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        status: Annotated[LabRequestStatus | None, Query()] = None,
        visit_id: Annotated[str | None, Query(alias="visitId")] = None,
        patient_id: Annotated[str | None, Query(alias="patientId")] = None,
    ) -> JSONResponse:
        """A patient's or a visit's lab requests, or the open ones (the bench); reads audited."""
        found = await service.LAB_ORDERS.listing(
            uow.session,
            page,
            status=status.value if status else None,
            patient_id=patient_id,
            visit_id=visit_id,
        )
        await uow.audit_reads("LAB_REQUEST", found.items, details="GET /lab-requests")
        await uow.commit()
        return answer(principal, "LAB_REQUEST", found.items, page=found, request=request)

    @router.get("/lab-requests/{request_id}", response_model=LabRequestOut, tags=["lab requests"])
    async def read_lab_request(
        request_id: str, principal: ClinicalReader, uow: UoW
    ) -> JSONResponse:
        """A lab request with its results; the read is audited."""
        out = await service.LAB_ORDERS.read(uow.session, request_id)
        await uow.audit_reads("LAB_REQUEST", out, details="GET /lab-requests/{id}")
        await uow.commit()
        return answer(principal, "LAB_REQUEST", out)

    @router.patch("/lab-requests/{request_id}", response_model=LabRequestOut, tags=["lab requests"])
    async def update_lab_request(
        request_id: str,
        body: LabRequestUpdate,
        principal: ResultEnterer,
        uow: UoW,
        request: Request,
    ) -> LabRequestOut:
        """updateLabRequest: start work, enter results, complete (reported to the clinician)."""
        out = await service.update_lab_request(
            uow, worklist, catalogue, request_id, body, expected_version(request, body.version)
        )
        await uow.commit()
        return out

    return router
