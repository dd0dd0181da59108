"""The lab's use cases: receive orders, enter and flag results, report them.

Each use case writes, publishes and audits through one unit of work; the caller commits.
"""

from __future__ import annotations

from typing import Any

from kliniki.contracts import clinical
from kliniki.db import utcnow
from kliniki.events import CloudEvent
from kliniki.problems import Conflict, InvalidInput
from kliniki.records import edit
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import priority_of
from kliniki.worklist.orders import Orders
from kliniki.worklist.service import Worklist
from lab import events
from lab.domain import (
    CRITICAL_FLAGS,
    OPEN_STATUSES,
    Catalogue,
    Flag,
    LabRequestStatus,
    LabTest,
    Reading,
    check_status_change,
    reported_urgency,
)
from lab.models import LabRequest, LabResult
from lab.schemas import LabRequestOut, LabRequestUpdate, LabResultOut, LabTestOut, ReferenceRange


def result_out(result: LabResult) -> LabResultOut:
    quantitative = result.value_number is not None
    return LabResultOut(
        analyte=result.analyte,
        name=result.name,
        value=result.value_number if quantitative else (result.value_text or ""),
        unit=result.unit,
        text=result.text,
        reference_range=ReferenceRange(
            low=result.reference_low,
            high=result.reference_high,
            unit=result.unit,
            critical_low=result.critical_low,
            critical_high=result.critical_high,
        )
        if quantitative
        else None,
        flag=Flag(result.flag),
        abnormal=result.flag != Flag.NORMAL,
        critical=result.flag in CRITICAL_FLAGS,
    )


def lab_request_out(request: LabRequest) -> LabRequestOut:
    columns = {c.key: getattr(request, c.key) for c in LabRequest.__table__.columns}
    results = sorted(request.results, key=lambda r: r.position)
    return LabRequestOut.model_validate({**columns, "results": [result_out(r) for r in results]})


LAB_ORDERS = Orders(
    model=LabRequest,
    resource="LAB_REQUEST",
    noun="lab request",
    open_statuses=OPEN_STATUSES,
    fulfilled_status=LabRequestStatus.COMPLETED.value,
    describe=lambda r: f"{r.test_name} ordered by {r.requested_by}",
    to_out=lab_request_out,
    priority_column="urgency",
    ordered_at_column="requested_at",
)


def catalogue_out(catalogue: Catalogue) -> list[LabTestOut]:
    return [
        LabTestOut(
            code=test.code,
            name=test.name,
            analytes=[
                {
                    "key": a.key,
                    "name": a.name,
                    "unit": a.unit,
                    "reference_range": None
                    if a.qualitative
                    else {
                        "low": a.low,
                        "high": a.high,
                        "unit": a.unit,
                        "critical_low": a.critical_low,
                        "critical_high": a.critical_high,
                    },
                    "qualitative": list(a.qualitative) or None,
                    "normal": a.normal,
                }
                for a in test.analytes.values()
            ],
        )
        for test in catalogue.tests.values()
    ]


# -- orders from clinical ------------------------------------------------------------------------


async def receive_lab_request(
    uow: UnitOfWork,
    event: CloudEvent,
    order: clinical.LabRequestCreated,
    *,
    worklist: Worklist,
    catalogue: Catalogue,
) -> None:
    """``lab_request.created``: keep the order and put the patient on the lab worklist."""
    copied = await LAB_ORDERS.arrived(uow, worklist, order, event)
    if copied is None:
        return
    test = catalogue.get(order.test_type)
    priority = priority_of(order.urgency)
    requested_by = order.requested_by or event.actorid or "unknown"
    request = LabRequest(
        **copied,
        test_type=order.test_type,
        # An order for a test missing from the catalogue is still kept (an order never
        # vanishes); entering its results is refused until the catalogue lists it.
        test_name=test.name if test else order.test_type,
        urgency=priority.value,
        order_notes=order.notes,
        requested_by=requested_by,
        requested_at=order.created_at,
        status=LabRequestStatus.REQUESTED.value,
        critical=False,
        results=[],  # known empty: reading it must not lazy-load (async sessions cannot)
    )
    await LAB_ORDERS.receive(
        uow,
        worklist,
        request,
        priority=priority,
        cause=f"{test.name if test else order.test_type} ordered by {requested_by}",
    )


# -- reading -------------------------------------------------------------------------------------


# -- results ---------------------------------------------------------------------------------------


def _test_of(catalogue: Catalogue, request: LabRequest) -> LabTest:
    test = catalogue.get(request.test_type)
    if test is None:
        raise InvalidInput(
            "testType",
            f"{request.test_type} is not in the lab's catalogue, so its results cannot be "
            "entered; add it to the catalogue file first",
        )
    return test


def _record(request: LabRequest, test: LabTest, reading: Reading, actor: str) -> None:
    """Store a reading, replacing an earlier one of the same analyte (a corrected entry)."""
    row = next((r for r in request.results if r.analyte == reading.analyte), None)
    if row is None:
        row = LabResult(analyte=reading.analyte, position=test.position(reading.analyte))
        request.results.append(row)
    quantitative = isinstance(reading.value, float)
    row.name = reading.name
    row.value_number = reading.value if isinstance(reading.value, float) else None
    row.value_text = None if quantitative else str(reading.value)
    row.unit = reading.unit
    row.text = reading.text
    row.flag = reading.flag.value
    row.reference_low, row.reference_high = reading.low, reading.high
    row.critical_low, row.critical_high = reading.critical_low, reading.critical_high
    row.entered_by = actor
    row.entered_at = utcnow()


def _enter_results(
    catalogue: Catalogue,
    request: LabRequest,
    results: dict[str, Any],
    completing: bool,
    actor: str,
) -> dict[str, Reading]:
    """Read, check and store the values sent; all or none (every refusal named at once)."""
    if not results and not completing:
        return {}
    test = _test_of(catalogue, request)
    readings, errors = test.read_results(results)
    if completing:
        entered = [*(r.analyte for r in request.results), *readings]
        errors += [
            (f"results.{key}", f"required to complete {test.code} ({test.analytes[key].name})")
            for key in test.missing(entered)
        ]
    if errors:
        raise InvalidInput.of(errors)
    for reading in readings.values():
        _record(request, test, reading, actor)
    return readings


async def update_lab_request(
    uow: UnitOfWork,
    worklist: Worklist,
    catalogue: Catalogue,
    request_id: str,
    body: LabRequestUpdate,
    expected_version: int | None,
) -> LabRequestOut:
    """updateLabRequest: start, enter results, complete (reported to the clinician)."""
    change = await edit(uow, LabRequest, request_id, "lab request", lab_request_out, "LAB_REQUEST")
    request, before = change.record, change.before
    change.check_version(expected_version)
    try:
        check_status_change(request.status, body.status)
    except ValueError as exc:
        raise Conflict(str(exc), current=change.current) from exc
    if body.status is None and not body.results and "notes" not in body.model_fields_set:
        raise InvalidInput("body", "send status, results or notes")

    completing = body.status == LabRequestStatus.COMPLETED
    readings = _enter_results(catalogue, request, body.results or {}, completing, uow.actor_id)

    changed = ["results"] if readings else []
    if "notes" in body.model_fields_set and body.notes != request.notes:
        request.notes = body.notes
        changed.append("notes")
    # Entering the first results is starting the work, even without saying so.
    new_status = body.status or (LabRequestStatus.IN_PROGRESS.value if readings else None)
    now = utcnow()
    if new_status is not None and new_status != request.status:
        if request.started_at is None:
            request.started_by, request.started_at = uow.actor_id, now
        request.status = new_status
        changed.append("status")
    if not changed:
        return before  # nothing new (e.g. IN_PROGRESS sent twice): no event, no audit
    if completing:
        request.completed_by, request.completed_at = uow.actor_id, now
    request.critical = any(r.flag in CRITICAL_FLAGS for r in request.results)
    # Results live in their own table; touching the request bumps its version for them too.
    request.updated_at = now
    if not completing:
        return await change.save(
            "UPDATE",
            event=events.LAB_REQUEST_UPDATED,
            data=lambda after: events.LabRequestUpdated.model_validate(
                {
                    **after.model_dump(),
                    "lab_request_id": request.id,
                    "changed_fields": changed,
                    "updated_by": uow.actor_id,
                }
            ),
        )
    after = await change.save("COMPLETE", event=events.LAB_REQUEST_COMPLETED, data=_report)
    await LAB_ORDERS.settle_visit(uow, worklist, request.visit_id)
    return after


def _report(out: LabRequestOut) -> events.LabRequestCompleted:
    """The results go to the clinician: URGENT when ordered so or when a value is critical."""
    urgency = reported_urgency(out.urgency, out.critical)
    return events.LabRequestCompleted.model_validate(
        {**out.model_dump(), "lab_request_id": out.id, "urgency": urgency}
    )
