"""The pharmacy's use cases: receive prescriptions, dispense them.

Each use case writes, publishes and audits through one unit of work; the caller commits.
"""

from __future__ import annotations

from kliniki.auth import Principal
from kliniki.contracts import clinical
from kliniki.db import utcnow
from kliniki.events import CloudEvent
from kliniki.problems import Conflict, InvalidInput
from kliniki.records import edit
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import priority_of
from kliniki.worklist.orders import Orders
from kliniki.worklist.service import Worklist
from pharmacy import events
from pharmacy.domain import (
    OPEN_STATUSES,
    PrescriptionStatus,
    check_dispensable,
    check_dispenser,
)
from pharmacy.models import Prescription
from pharmacy.schemas import PrescriptionDispense, PrescriptionOut


def prescription_out(prescription: Prescription) -> PrescriptionOut:
    return PrescriptionOut.model_validate(prescription)


def _describe(p: Prescription) -> str:
    medication = f"{p.medication_name} {p.dosage}" if p.dosage else p.medication_name
    return f"{medication} prescribed by {p.prescribed_by}"


PRESCRIPTIONS = Orders(
    model=Prescription,
    resource="PRESCRIPTION",
    noun="prescription",
    open_statuses=OPEN_STATUSES,
    fulfilled_status=PrescriptionStatus.DISPENSED.value,
    describe=_describe,
    to_out=prescription_out,
    priority_column="priority",
    ordered_at_column="prescribed_at",
)


# -- prescriptions from clinical -----------------------------------------------------------------


# What the pharmacy keeps of a prescription as the clinician wrote it (same names both sides).
AS_PRESCRIBED = {"medication_name", "dosage", "frequency", "duration", "instructions"}


async def receive_prescription(
    uow: UnitOfWork, event: CloudEvent, ordered: clinical.PrescriptionCreated, *, worklist: Worklist
) -> None:
    """``prescription.created``: ready for dispensing, and the patient on the worklist."""
    copied = await PRESCRIPTIONS.arrived(uow, worklist, ordered, event)
    if copied is None:
        return
    priority = priority_of(ordered.priority)
    prescription = Prescription(
        **copied,
        **ordered.model_dump(include=AS_PRESCRIBED),
        priority=priority.value,
        prescribed_by=ordered.prescribed_by or event.actorid or "unknown",
        prescribed_at=ordered.created_at,
        status=PrescriptionStatus.READY_FOR_DISPENSING.value,
    )
    await PRESCRIPTIONS.receive(
        uow, worklist, prescription, priority=priority, cause=_describe(prescription)
    )


# -- dispensing ------------------------------------------------------------------------------------


async def dispense(
    uow: UnitOfWork,
    worklist: Worklist,
    pharmacist: Principal,
    prescription_id: str,
    body: PrescriptionDispense,
    expected_version: int | None,
) -> PrescriptionOut:
    """updatePrescription: record who dispensed, when, and the counselling given."""
    change = await edit(
        uow, Prescription, prescription_id, "prescription", prescription_out, "PRESCRIPTION"
    )
    prescription = change.record
    # A second dispensing is refused whatever version it names: the record shows who did it.
    try:
        check_dispensable(prescription.status)
    except ValueError as exc:
        raise Conflict(str(exc), current=change.current) from exc
    change.check_version(expected_version)
    try:
        check_dispenser(body.dispensed_by, pharmacist.user_id)
    except ValueError as exc:
        raise InvalidInput("dispensedBy", str(exc)) from exc

    prescription.status = PrescriptionStatus.DISPENSED.value
    prescription.dispensed_by = pharmacist.user_id
    prescription.dispensed_by_name = pharmacist.name
    prescription.dispensed_at = utcnow()  # the server's clock, not the counter PC's
    prescription.dispensing_notes = body.dispensing_notes
    after = await change.save(
        "DISPENSE",
        event=events.PRESCRIPTION_DISPENSED,
        data=lambda after: events.PrescriptionDispensed.model_validate(
            {**after.model_dump(), "prescription_id": prescription.id}
        ),
    )
    await PRESCRIPTIONS.settle_visit(uow, worklist, prescription.visit_id)
    return after
