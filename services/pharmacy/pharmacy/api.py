"""The pharmacy's HTTP routes (the worklist's come from the shared kernel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from kliniki.access import Permission
from kliniki.auth import Principal
from kliniki.paging import PageQuery
from kliniki.web import UoW, answer, expected_version, require
from kliniki.worklist.service import Worklist
from pharmacy import service
from pharmacy.domain import PrescriptionStatus
from pharmacy.schemas import PrescriptionDispense, PrescriptionOut

# Prescriptions are clinical data: the front desk and the till never read them.
ClinicalReader = Annotated[Principal, Depends(require(Permission.CLINICAL_READ))]
Dispenser = Annotated[Principal, Depends(require(Permission.PRESCRIPTION_DISPENSE))]


def pharmacy_router(worklist: Worklist) -> APIRouter:
    router = APIRouter(tags=["prescriptions"])

    @router.get("/prescriptions", response_model=list[PrescriptionOut])
    async def list_prescriptions(
        principal: ClinicalReader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        status: Annotated[PrescriptionStatus | None, Query()] = None,
        visit_id: Annotated[str | None, Query(alias="visitId")] = None,
        patient_id: Annotated[str | None, Query(alias="patientId")] = None,
    ) -> JSONResponse:
        """A patient's or a visit's prescriptions, or the open ones (the counter); reads
        audited."""
        found = await service.PRESCRIPTIONS.listing(
            uow.session,
            page,
            status=status.value if status else None,
            patient_id=patient_id,
            visit_id=visit_id,
        )
        await uow.audit_reads("PRESCRIPTION", found.items, details="GET /prescriptions")
        await uow.commit()
        return answer(principal, "PRESCRIPTION", found.items, page=found, request=request)

    @router.get("/prescriptions/{prescription_id}", response_model=PrescriptionOut)
    async def read_prescription(
        prescription_id: str, principal: ClinicalReader, uow: UoW
    ) -> JSONResponse:
        """A prescription; the read is audited."""
        out = await service.PRESCRIPTIONS.read(uow.session, prescription_id)
        await uow.audit_reads("PRESCRIPTION", out, details="GET /prescriptions/{id}")
        await uow.commit()
        return answer(principal, "PRESCRIPTION", out)

    @router.patch("/prescriptions/{prescription_id}", response_model=PrescriptionOut)
    async def dispense_prescription(
        prescription_id: str,
        body: PrescriptionDispense,
        principal: Dispenser,
        uow: UoW,
        request: Request,
    ) -> PrescriptionOut:
        """updatePrescription: dispense, with the counselling notes."""
        out = await service.dispense(
            uow,
            worklist,
            principal,
            prescription_id,
            body,
            expected_version(request, body.version),
        )
        await uow.commit()
        return out

    return router
