"""Clinical's HTTP routes (the worklist's come from the shared kernel)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse

from clinical import service
from clinical.domain import orderable_tests, search_icd10
from clinical.schemas import (
    DiagnosisCreate,
    DiagnosisOut,
    Icd10Code,
    LabRequestCreate,
    LabRequestOut,
    OrderCancel,
    PatientRecord,
    PrescriptionCreate,
    PrescriptionOut,
)
from kliniki.access import Permission
from kliniki.auth import Principal
from kliniki.settings import ServiceSettings
from kliniki.web import UoW, answer, expected_version, idempotent_create, require

ClinicalReader = Annotated[Principal, Depends(require(Permission.CLINICAL_READ))]
Exporter = Annotated[Principal, Depends(require(Permission.RECORD_EXPORT))]
FHIR_JSON = "application/fhir+json"
Clinician = Annotated[Principal, Depends(require(Permission.CONSULTATION_WRITE))]


def icd10_router() -> APIRouter:
    router = APIRouter(tags=["consultation"])

    @router.get("/icd10", response_model=list[Icd10Code], summary="Search ICD-10 (code or words)")
    async def icd10_search(
        principal: ClinicalReader,
        q: Annotated[str, Query(min_length=1, max_length=100, description="I21, or words")],
        limit: Annotated[int, Query(ge=1, le=50)] = 20,
    ) -> list[Icd10Code]:
        return [Icd10Code(code=c, description=d) for c, d in search_icd10(q, limit)]

    return router


def clinical_router(settings: ServiceSettings) -> APIRouter:
    router = APIRouter(prefix="/patients/{patient_id}", tags=["consultation"])
    # Read once: the catalogue is configuration (a change takes a restart, as in the lab).
    orderable = orderable_tests(settings.lab_catalogue_file)

    @router.get("/record", response_model=PatientRecord, summary="The doctor's view")
    async def patient_record(patient_id: str, principal: ClinicalReader, uow: UoW) -> JSONResponse:
        """Triage findings, diagnoses, orders and results of the current visit; the read is
        audited (who looked at this patient, when)."""
        record = await service.patient_record(uow.session, patient_id)
        await uow.audit_reads(
            "PATIENT_RECORD", record, id_field="patientId", details="GET /patients/{id}/record"
        )
        await uow.commit()
        return answer(principal, "PATIENT_RECORD", record)

    @router.post("/diagnoses", response_model=DiagnosisOut, status_code=201)
    async def add_diagnosis(
        patient_id: str, body: DiagnosisCreate, principal: Clinician, uow: UoW, request: Request
    ) -> JSONResponse:
        return await idempotent_create(
            request, uow, lambda: service.add_diagnosis(uow, patient_id, body)
        )

    @router.post("/prescriptions", response_model=PrescriptionOut, status_code=201)
    async def add_prescription(
        patient_id: str, body: PrescriptionCreate, principal: Clinician, uow: UoW, request: Request
    ) -> JSONResponse:
        return await idempotent_create(
            request, uow, lambda: service.add_prescription(uow, patient_id, body)
        )

    @router.post("/lab-requests", response_model=LabRequestOut, status_code=201)
    async def add_lab_request(
        patient_id: str, body: LabRequestCreate, principal: Clinician, uow: UoW, request: Request
    ) -> JSONResponse:
        return await idempotent_create(
            request, uow, lambda: service.add_lab_request(uow, patient_id, body, orderable)
        )

    @router.patch("/prescriptions/{prescription_id}", summary="Cancel a prescription")
    async def cancel_prescription(
        patient_id: str,
        prescription_id: str,
        body: OrderCancel,
        principal: Clinician,
        uow: UoW,
        request: Request,
    ) -> dict[str, Any]:
        out = await service.cancel_order(
            uow,
            service.PRESCRIPTION_ORDERS,
            patient_id,
            prescription_id,
            body,
            expected_version(request, body.version),
        )
        await uow.commit()
        return out

    @router.patch("/lab-requests/{lab_request_id}", summary="Cancel a lab request")
    async def cancel_lab_request(
        patient_id: str,
        lab_request_id: str,
        body: OrderCancel,
        principal: Clinician,
        uow: UoW,
        request: Request,
    ) -> dict[str, Any]:
        out = await service.cancel_order(
            uow,
            service.LAB_ORDERS,
            patient_id,
            lab_request_id,
            body,
            expected_version(request, body.version),
        )
        await uow.commit()
        return out

    return router


def fhir_router() -> APIRouter:
    router = APIRouter(tags=["interoperability"])

    @router.get(
        "/visits/{visit_id}/fhir",
        summary="The visit as a FHIR R4B Bundle (collection)",
        response_class=JSONResponse,
        responses={200: {"content": {FHIR_JSON: {}}}},
    )
    async def visit_fhir(visit_id: str, principal: Exporter, uow: UoW) -> JSONResponse:
        bundle = await service.visit_as_fhir(uow, visit_id)
        await uow.commit()  # the export's audit record
        return JSONResponse(bundle, media_type=FHIR_JSON)

    return router
