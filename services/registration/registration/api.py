"""Registration's HTTP routes: parse, authorize, call the use case, shape the answer."""

from __future__ import annotations

import datetime as dt
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse, Response

from kliniki.access import Permission, Role
from kliniki.auth import Principal
from kliniki.directory import StaffDirectory
from kliniki.paging import PageQuery
from kliniki.uow import UnitOfWork
from kliniki.web import UoW, answer, expected_version, get_kernel, idempotent_create, require
from registration import board, report, service
from registration.board import BoardVisit
from registration.domain import VisitStatus
from registration.report import DailyReport
from registration.schemas import (
    AppointmentCreate,
    AppointmentOut,
    PatientCorrection,
    PatientCreate,
    PatientOut,
    VisitOpen,
    VisitOut,
    VisitUpdate,
)

Registrar = Annotated[Principal, Depends(require(Permission.PATIENT_REGISTER))]
PatientReader = Annotated[Principal, Depends(require(Permission.PATIENT_READ))]
PatientCorrector = Annotated[Principal, Depends(require(Permission.PATIENT_CORRECT))]
VisitReader = Annotated[Principal, Depends(require(Permission.VISIT_READ))]
VisitUpdater = Annotated[Principal, Depends(require(Permission.VISIT_UPDATE))]
Scheduler = Annotated[Principal, Depends(require(Permission.APPOINTMENT_SCHEDULE))]
AppointmentReader = Annotated[Principal, Depends(require(Permission.APPOINTMENT_READ))]
ReportReader = Annotated[Principal, Depends(require(Permission.REPORT_READ))]


async def _clinicians(request: Request, uow: UnitOfWork) -> frozenset[str]:
    """Who may be booked for an appointment: the active clinical officers of the staff
    directory (kept from identity's events)."""
    directory = get_kernel(request).directory
    if not isinstance(directory, StaffDirectory):
        return frozenset()
    members = await directory.with_role(uow.session, Role.CLINICAL_OFFICER.value)
    return frozenset(m.user_id for m in members)


def registration_router() -> APIRouter:
    """Patients, visits, appointments, the visits board and the daily report."""
    router = APIRouter()

    @router.post(
        "/patients",
        response_model=PatientOut,
        status_code=201,
        tags=["patients"],
        summary="Register a patient and open their first visit",
    )
    async def register_patient(
        body: PatientCreate, principal: Registrar, uow: UoW, request: Request
    ) -> JSONResponse:
        return await idempotent_create(
            request, uow, lambda: service.register_patient(uow, body), kind="PATIENT"
        )

    @router.get("/patients", response_model=list[PatientOut], tags=["patients"])
    async def search_patients(
        principal: PatientReader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        q: Annotated[
            str, Query(min_length=1, max_length=100, description="Name, phone or OP number")
        ],
    ) -> JSONResponse:
        found = await service.search_patients(uow.session, q, page)
        return answer(principal, "PATIENT", found.items, page=found, request=request)

    @router.get("/patients/{patient_id}", response_model=PatientOut, tags=["patients"])
    async def read_patient(patient_id: str, principal: PatientReader, uow: UoW) -> JSONResponse:
        patient = await service.get_patient(uow.session, patient_id)
        visit = await service.current_visit(uow.session, patient.id)
        return answer(principal, "PATIENT", service.patient_out(patient, visit))

    @router.patch("/patients/{patient_id}", response_model=PatientOut, tags=["patients"])
    async def correct_patient(
        patient_id: str,
        body: PatientCorrection,
        principal: PatientCorrector,
        uow: UoW,
        request: Request,
    ) -> JSONResponse:
        out = await service.correct_patient(
            uow, patient_id, body, expected_version(request, body.version)
        )
        await uow.commit()
        return answer(principal, "PATIENT", out)

    @router.post(
        "/patients/{patient_id}/visits",
        response_model=VisitOut,
        status_code=201,
        tags=["visits"],
        summary="Open a new visit for a returning patient",
    )
    async def open_visit(
        patient_id: str, body: VisitOpen, principal: Registrar, uow: UoW, request: Request
    ) -> JSONResponse:
        payment_type = body.payment_type.value if body.payment_type else None
        return await idempotent_create(
            request, uow, lambda: service.open_visit(uow, patient_id, payment_type), kind="VISIT"
        )

    @router.get("/visits", response_model=list[VisitOut], tags=["visits"])
    async def list_visits(
        principal: VisitReader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        status: VisitStatus | None = None,
        patient_id: Annotated[str | None, Query(alias="patientId", max_length=64)] = None,
    ) -> JSONResponse:
        found = await service.list_visits(uow.session, status, patient_id, page)
        return answer(principal, "VISIT", found.items, page=found, request=request)

    @router.get(
        "/visit-board",
        response_model=list[BoardVisit],
        tags=["visits"],
        summary="The day's visits, newest first: status, and who has the patient now at each stage",
    )
    async def read_visit_board(
        principal: VisitReader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        date: Annotated[
            dt.date | None, Query(description="The clinic's day; today if omitted")
        ] = None,
    ) -> JSONResponse:
        zone = get_kernel(request).settings.clinic_time_zone
        day = date or dt.datetime.now(ZoneInfo(zone)).date()
        found = await board.visits_board(uow.session, day, zone, page)
        return answer(principal, "VISIT", found.items, page=found, request=request)

    @router.get("/visits/{visit_id}", response_model=VisitOut, tags=["visits"])
    async def read_visit(visit_id: str, principal: VisitReader, uow: UoW) -> JSONResponse:
        visit = await service.get_visit(uow.session, visit_id)
        return answer(principal, "VISIT", VisitOut.model_validate(visit))

    @router.patch("/visits/{visit_id}", response_model=VisitOut, tags=["visits"])
    async def update_visit(
        visit_id: str, body: VisitUpdate, principal: VisitUpdater, uow: UoW, request: Request
    ) -> JSONResponse:
        out = await service.update_visit(
            uow, visit_id, body, expected_version(request, body.version)
        )
        await uow.commit()
        return answer(principal, "VISIT", out)

    @router.post(
        "/appointments", response_model=AppointmentOut, status_code=201, tags=["appointments"]
    )
    async def schedule_appointment(
        body: AppointmentCreate, principal: Scheduler, uow: UoW, request: Request
    ) -> JSONResponse:
        clinicians = await _clinicians(request, uow)
        return await idempotent_create(
            request,
            uow,
            lambda: service.schedule_appointment(uow, body, clinicians),
            kind="APPOINTMENT",
        )

    @router.get("/appointments", response_model=list[AppointmentOut], tags=["appointments"])
    async def list_appointments(
        principal: AppointmentReader,
        uow: UoW,
        request: Request,
        page: PageQuery,
        patient_id: Annotated[str, Query(alias="patientId", min_length=1)],
    ) -> JSONResponse:
        found = await service.list_appointments(uow.session, patient_id, page)
        return answer(principal, "APPOINTMENT", found.items, page=found, request=request)

    @router.get(
        "/reports/daily",
        response_model=DailyReport,
        tags=["reports"],
        summary="The day's outpatient report (JSON, or CSV with Accept: text/csv)",
        responses={200: {"content": {"text/csv": {}}}},
    )
    async def read_daily_report(
        principal: ReportReader,
        uow: UoW,
        request: Request,
        date: Annotated[
            dt.date | None, Query(description="The clinic's day; today if omitted")
        ] = None,
    ) -> DailyReport | Response:
        zone = get_kernel(request).settings.clinic_time_zone
        day = date or dt.datetime.now(ZoneInfo(zone)).date()
        found = await report.daily_report(uow.session, day, zone)
        if "text/csv" in request.headers.get("accept", ""):
            return Response(
                report.as_csv(found),
                media_type="text/csv",
                headers={"Content-Disposition": f'attachment; filename="outpatients-{day}.csv"'},
            )
        return found

    return router
