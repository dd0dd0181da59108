"""Steps 5 and 6 through HTTP and RabbitMQ: the departments' events in, the invoice, the patient
ready for payment, processPayment, the visit settled.

The patient is registered for real (billing learns the visit and how it is paid from
``patient.registered``); the clinical, lab and pharmacy events are put on those services'
exchanges by the test itself, so billing is tested against docs/events.md and nothing else.
"""

from __future__ import annotations

import asyncio
import json
import random
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kliniki.events import CloudEvent
from tests.support.journey import Journey
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually

SCENARIO_PAYMENT = {
    "amount": 500.00,
    "paymentType": "CASH",
    "status": "COMPLETED",
    "processedBy": "tom_cashier",
}


# -- the departments' events, as docs/events.md writes them ------------------------------------


def department_event(
    journey: Journey, service: str, routing_key: str, actor: str, **data: Any
) -> CloudEvent:
    return CloudEvent(
        source=f"/services/{service}",
        type=f"{routing_key}.v1",
        subject=journey.patient_id,
        visitid=journey.visit_id,
        actorid=actor,
        data={"patientId": journey.patient_id, "visitId": journey.visit_id, **data},
    )


@dataclass
class VisitEvents:
    """The scenario's billable steps for one visit, each as its department would announce it."""

    journey: Journey
    lab_request_id: str
    prescription_id: str

    @classmethod
    def of(cls, journey: Journey) -> VisitEvents:
        return cls(
            journey,
            f"labrequest_{uuid.uuid4().hex[:12]}",
            f"prescription_{uuid.uuid4().hex[:12]}",
        )

    def lab_request_created(self) -> CloudEvent:
        return department_event(
            self.journey,
            "clinical",
            "lab_request.created",
            "dr_smith",
            labRequestId=self.lab_request_id,
            testType="CARDIAC_ENZYMES",
            urgency="URGENT",
            notes="Check troponin levels for MI confirmation",
            requestedBy="dr_smith",
            createdAt="2024-01-08T09:32:00+00:00",
        )

    def prescription_created(self) -> CloudEvent:
        return department_event(
            self.journey,
            "clinical",
            "prescription.created",
            "dr_smith",
            prescriptionId=self.prescription_id,
            medicationName="Aspirin",
            dosage="325mg",
            frequency="Once daily",
            duration="30 days",
            instructions="Take with food to prevent stomach upset",
            priority="URGENT",
            prescribedBy="dr_smith",
            createdAt="2024-01-08T09:31:00+00:00",
        )

    def consultation_completed(self) -> CloudEvent:
        return department_event(
            self.journey,
            "clinical",
            "consultation.completed",
            "dr_smith",
            completedBy="dr_smith",
            completedAt="2024-01-08T09:40:00+00:00",
            labRequestIds=[self.lab_request_id],
            prescriptionIds=[self.prescription_id],
            diagnosisCodes=["I21.9"],
        )

    def lab_request_completed(self) -> CloudEvent:
        return department_event(
            self.journey,
            "lab",
            "lab_request.completed",
            "mike_lab_tech",
            labRequestId=self.lab_request_id,
            patientName=self.journey.patient["fullName"],
            opNumber=self.journey.patient["opNumber"],
            testType="CARDIAC_ENZYMES",
            testName="Cardiac enzymes",
            results=[],
            critical=True,
            urgency="URGENT",
            notes="Results confirm acute myocardial infarction",
            requestedBy="dr_smith",
            completedBy="mike_lab_tech",
            completedAt="2024-01-08T10:30:00+00:00",
            version=3,
        )

    def prescription_dispensed(self) -> CloudEvent:
        return department_event(
            self.journey,
            "pharmacy",
            "prescription.dispensed",
            "lisa_pharmacist",
            prescriptionId=self.prescription_id,
            patientName=self.journey.patient["fullName"],
            opNumber=self.journey.patient["opNumber"],
            medicationName="Aspirin",
            dosage="325mg",
            dispensedBy="lisa_pharmacist",
            dispensedByName="Lisa Mwangi",
            dispensedAt="2024-01-08T11:00:00+00:00",
            dispensingNotes="Patient counseled on aspirin therapy and MI symptoms",
            prescribedBy="dr_smith",
            version=2,
        )

    def lab_request_cancelled(self) -> CloudEvent:
        return department_event(
            self.journey,
            "clinical",
            "lab_request.cancelled",
            "dr_smith",
            labRequestId=self.lab_request_id,
            cancelledBy="dr_smith",
            reason="Patient transferred before the sample was taken",
        )

    def in_scenario_order(self) -> list[CloudEvent]:
        return [
            self.prescription_created(),
            self.lab_request_created(),
            self.consultation_completed(),
            self.lab_request_completed(),
            self.prescription_dispensed(),
        ]


def service_of(event: CloudEvent) -> str:
    return event.source.rsplit("/", 1)[-1]


async def publish(stack: Stack, event: CloudEvent) -> None:
    await stack.publish_raw(service_of(event), event.routing_key, event.to_json_bytes())


async def fetch(stack: Stack, sql: str, *args: Any) -> list[Any]:
    db = await stack.connect_db("billing")
    try:
        return await db.fetch(sql, *args)
    finally:
        await db.close()


async def handled(stack: Stack, event: CloudEvent) -> None:
    """Billing has applied ``event`` (its inbox holds the id)."""
    await eventually(lambda: fetch(stack, "select 1 from inbox where event_id = $1", event.id))


async def published(stack: Stack, routing_key: str, visit_id: str) -> list[dict[str, Any]]:
    """The events billing staged for this visit, in order."""
    rows = await fetch(
        stack,
        "select envelope from outbox where routing_key = $1 and envelope->>'visitid' = $2"
        " order by id",
        routing_key,
        visit_id,
    )
    return [json.loads(r["envelope"]) for r in rows]


async def registered_patient(stack: Stack, http: httpx.AsyncClient) -> Journey:
    """A patient registered at the front desk, once billing has opened their visit's invoice."""
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    await eventually(
        lambda: fetch(
            stack,
            "select 1 from invoices where visit_id = $1 and payment_type is not null",
            journey.visit_id,
        )
    )
    return journey


async def ready_visit(stack: Stack, http: httpx.AsyncClient) -> Journey:
    """The scenario's visit, treated and waiting at the till with 500.00 due."""
    journey = await registered_patient(stack, http)
    for event in VisitEvents.of(journey).in_scenario_order():
        await publish(stack, event)
    # Registration has moved the visit to WAITING_PAYMENT and billing has heard: the invoice
    # is at rest.
    await billing_heard(stack, journey, "WAITING_PAYMENT")
    return journey


async def billing_heard(stack: Stack, journey: Journey, visit_status: str) -> None:
    """Billing has applied registration's news that the visit is ``visit_status``."""
    await eventually(
        lambda: fetch(
            stack,
            "select 1 from invoices where visit_id = $1 and visit_status = $2",
            journey.visit_id,
            visit_status,
        )
    )


async def invoice(journey: Journey, user: str = "tom_cashier") -> dict[str, Any]:
    return await journey.call("GET", "billing", f"/visits/{journey.visit_id}/invoice", user)


async def pay(
    journey: Journey, user: str = "tom_cashier", headers: dict[str, str] | None = None, **body: Any
) -> httpx.Response:
    return await journey.http.post(
        f"{journey.urls['billing']}/visits/{journey.visit_id}/payments",
        headers={**auth(user), **(headers or {})},
        json={**SCENARIO_PAYMENT, **body},
    )


async def payment_assignments(journey: Journey, status: str = "ACTIVE") -> list[dict[str, Any]]:
    return await journey.call(
        "GET", "billing", f"/assignments?visitId={journey.visit_id}&status={status}", "tom_cashier"
    )


# -- the scenario ----------------------------------------------------------------------------------


async def test_the_scenarios_visit_is_ready_for_payment_once_with_500_then_paid(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    events = VisitEvents.of(journey).in_scenario_order()
    for event in events:
        await publish(stack, event)
    for event in events:
        await handled(stack, event)

    [ready] = await published(stack, "visit.ready_for_payment", journey.visit_id)
    assert (ready["type"], ready["subject"], ready["source"]) == (
        "visit.ready_for_payment.v1",
        journey.patient_id,
        "/services/billing",
    )
    data = ready["data"]
    assert data["totalAmount"] == 500.0
    assert (data["paymentType"], data["currency"]) == ("CASH", "KES")
    assert data["services"] == ["Consultation", "Lab Tests", "Medication"]
    assert sorted((i["kind"], i["amount"]) for i in data["items"]) == [
        ("CONSULTATION", 200.0),
        ("LAB_TEST", 200.0),
        ("MEDICATION", 100.0),
    ]
    assert len(await published(stack, "charge.added", journey.visit_id)) == 3

    bill = await invoice(journey)
    assert (bill["status"], bill["total"], bill["paid"], bill["balance"]) == (
        "READY_FOR_PAYMENT",
        500.0,
        0.0,
        500.0,
    )
    assert bill["total"] == sum(item["amount"] for item in bill["items"])
    assert [i["description"] for i in bill["items"]] == [
        "Consultation",
        "Lab test: Cardiac enzymes",
        "Medication: Aspirin",
    ]
    assert (bill["patientName"], bill["opNumber"]) == (
        journey.patient["fullName"],
        journey.patient["opNumber"],
    )
    assert (bill["paymentType"], bill["pendingOrders"]) == ("CASH", 0)
    # The front desk may read the bill too.
    desk = await invoice(journey, "alice_receptionist")
    assert (desk["id"], desk["items"], desk["balance"]) == (bill["id"], bill["items"], 500.0)

    # On the PAYMENT worklist, with Tom (the cashier on duty); his explicit routing finds it.
    [assignment] = await payment_assignments(journey)
    assert (assignment["assignmentType"], assignment["priority"]) == ("PAYMENT", "NORMAL")
    assert assignment["assignedToUserId"] == "tom_cashier"
    assert assignment["reason"].startswith("Ready for payment: KES 500.00")
    routed = await journey.call(
        "POST",
        "billing",
        "/assignments",
        "tom_cashier",
        (200, 201),
        json={
            "patientId": journey.patient_id,
            "assignedToUserId": "tom_cashier",
            "assignmentType": "PAYMENT",
            "priority": "NORMAL",
        },
    )
    assert routed["id"] == assignment["id"]

    # processPayment as the scenario writes it.
    response = await pay(journey)
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert (receipt["amount"], receipt["paymentType"], receipt["status"]) == (
        500.0,
        "CASH",
        "COMPLETED",
    )
    assert (receipt["processedBy"], receipt["processedByName"]) == ("tom_cashier", "Tom Kiprop")
    assert (receipt["invoice"]["status"], receipt["invoice"]["balance"]) == ("PAID", 0.0)

    # In the same transaction: the payment, the settlement, the assignment completed.
    [payment] = await published(stack, "payment.completed", journey.visit_id)
    assert (payment["data"]["amount"], payment["data"]["balance"]) == (500.0, 0.0)
    assert payment["actorid"] == "tom_cashier"
    [settled] = await published(stack, "invoice.settled", journey.visit_id)
    assert (settled["data"]["totalAmount"], settled["data"]["paidAmount"]) == (500.0, 500.0)
    assert settled["data"]["settledBy"] == "tom_cashier"
    assert await payment_assignments(journey) == []
    [done] = await payment_assignments(journey, "COMPLETED")
    assert done["id"] == assignment["id"]
    bill = await invoice(journey)
    assert (bill["status"], bill["paid"], bill["balance"]) == ("PAID", 500.0, 0.0)
    assert bill["settledBy"] == "tom_cashier"

    # Registration hears of it and completes the visit as PAID with the total.
    async def visit() -> dict[str, Any]:
        return await journey.call(
            "GET", "registration", f"/visits/{journey.visit_id}", "tom_cashier"
        )

    closed = await eventually(visit, lambda v: v["status"] == "COMPLETED")
    assert (closed["paymentStatus"], float(closed["totalAmount"])) == ("PAID", 500.0)

    # Every change audited.
    audit = await fetch(
        stack,
        "select action, resource, actor_id from audit_log where after->>'visitId' = $1"
        " or resource_id = $2 order by id",
        journey.visit_id,
        bill["id"],
    )
    actions = [(a["action"], a["resource"]) for a in audit]
    for expected in [
        ("CREATE", "INVOICE"),
        ("CREATE", "CHARGE"),
        ("READY_FOR_PAYMENT", "INVOICE"),
        ("CREATE", "PAYMENT"),
        ("SETTLE", "INVOICE"),
    ]:
        assert expected in actions, (expected, actions)
    assert sum(1 for a in actions if a == ("CREATE", "CHARGE")) == 3


@pytest.mark.parametrize("seed", ["reversed", "results first", 1, 2, 3])
async def test_events_in_any_order_make_the_visit_ready_once_and_only_when_all_is_done(
    stack: Stack, http: httpx.AsyncClient, seed: str | int
) -> None:
    journey = await registered_patient(stack, http)
    visit = VisitEvents.of(journey)
    events = visit.in_scenario_order()
    if seed == "reversed":
        events.reverse()
    elif seed == "results first":  # the orders' own announcements come last of all
        events = events[2:] + events[:2]
    else:
        random.Random(seed).shuffle(events)
    completing = {"consultation.completed", "lab_request.completed", "prescription.dispensed"}
    last_needed = max(i for i, e in enumerate(events) if e.routing_key in completing)

    for position, event in enumerate(events):
        await publish(stack, event)
        await handled(stack, event)
        readies = await published(stack, "visit.ready_for_payment", journey.visit_id)
        assert len(readies) == (1 if position >= last_needed else 0), (
            [e.routing_key for e in events],
            position,
        )

    [ready] = await published(stack, "visit.ready_for_payment", journey.visit_id)
    assert ready["data"]["totalAmount"] == 500.0
    bill = await invoice(journey)
    assert (bill["status"], bill["total"], bill["pendingOrders"]) == ("READY_FOR_PAYMENT", 500.0, 0)
    [assignment] = await payment_assignments(journey)
    assert assignment["assignedToUserId"] == "tom_cashier"


async def test_a_cancelled_order_is_not_waited_for_nor_charged(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await registered_patient(stack, http)
    visit = VisitEvents.of(journey)
    for event in [
        visit.lab_request_created(),
        visit.prescription_created(),
        visit.consultation_completed(),
        visit.prescription_dispensed(),
    ]:
        await publish(stack, event)
        await handled(stack, event)
    assert await published(stack, "visit.ready_for_payment", journey.visit_id) == []
    bill = await invoice(journey)
    assert (bill["status"], bill["total"], bill["pendingOrders"]) == ("OPEN", 300.0, 1)

    await publish(stack, visit.lab_request_cancelled())
    [ready] = await eventually(
        lambda: published(stack, "visit.ready_for_payment", journey.visit_id)
    )
    assert (ready["data"]["totalAmount"], ready["data"]["services"]) == (
        300.0,
        ["Consultation", "Medication"],
    )


async def test_billing_keeps_charges_for_a_visit_it_has_not_heard_registered_yet(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """Events may overtake registration's: charges are kept, readiness waits for the visit."""
    stranger = Journey(http, {s: stack.url(s) for s in stack.processes})
    stranger.patient = {
        "id": f"patient_{uuid.uuid4().hex[:20]}",
        "fullName": "Jane Wanjiku",
        "opNumber": "OP999999",
        "visit": {"id": f"visit_{uuid.uuid4().hex[:20]}"},
    }
    visit = VisitEvents.of(stranger)
    events = visit.in_scenario_order()
    for event in events:
        await publish(stack, event)
    for event in events:
        await handled(stack, event)
    bill = await invoice(stranger)
    assert (bill["status"], bill["total"], bill["paymentType"]) == ("OPEN", 500.0, None)
    assert await published(stack, "visit.ready_for_payment", stranger.visit_id) == []

    registered = CloudEvent(
        source="/services/registration",
        type="patient.registered.v1",
        subject=stranger.patient_id,
        visitid=stranger.visit_id,
        actorid="alice_receptionist",
        data={
            "patientId": stranger.patient_id,
            "opNumber": "OP999999",
            "firstName": "Jane",
            "lastName": "Wanjiku",
            "gender": "FEMALE",
            "age": 41,
            "dateOfBirth": None,
            "phoneNumber": "+254722000000",
            "insuranceType": "SHA",
            "version": 1,
            "visitId": stranger.visit_id,
            "registeredBy": "alice_receptionist",
            "registeredAt": "2024-01-08T08:00:00+00:00",
        },
    )
    await publish(stack, registered)
    [ready] = await eventually(
        lambda: published(stack, "visit.ready_for_payment", stranger.visit_id)
    )
    assert (ready["data"]["totalAmount"], ready["data"]["paymentType"]) == (500.0, "SHA")


# -- one charge per thing done ---------------------------------------------------------------------


async def duplicates_skipped(stack: Stack, http: httpx.AsyncClient) -> float:
    """How many redelivered events billing's inbox has stopped so far (from /metrics)."""
    metrics = (await http.get(f"{stack.url('billing')}/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("kliniki_events_consumed_total{") and 'outcome="duplicate"' in line
    )


async def test_a_redelivered_dispensing_is_charged_once(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await ready_visit(stack, http)
    [charge] = await fetch(
        stack,
        "select source_event_id, source_ref from charges where visit_id = $1"
        " and kind = 'MEDICATION'",
        journey.visit_id,
    )
    again = department_event(
        journey,
        "pharmacy",
        "prescription.dispensed",
        "lisa_pharmacist",
        prescriptionId=charge["source_ref"],
        medicationName="Aspirin",
        dosage="325mg",
        dispensedBy="lisa_pharmacist",
    ).model_copy(update={"id": charge["source_event_id"]})

    # The same message again (a broker redelivery): the inbox stops it.
    skipped = await duplicates_skipped(stack, http)
    await publish(stack, again)
    await eventually(lambda: duplicates_skipped(stack, http), lambda n: n > skipped)
    # Even without the inbox (its row gone, say a restore from backup): the charge's own
    # source event key stops it.
    db = await stack.connect_db("billing")
    try:
        await db.execute("delete from inbox where event_id = $1", again.id)
    finally:
        await db.close()
    await publish(stack, again)
    await handled(stack, again)
    # And the same dispensing announced under a new event id: one charge per prescription.
    renamed = again.model_copy(update={"id": str(uuid.uuid4())})
    await publish(stack, renamed)
    await handled(stack, renamed)

    charges = await fetch(
        stack,
        "select id from charges where visit_id = $1 and kind = 'MEDICATION'",
        journey.visit_id,
    )
    assert len(charges) == 1
    added = await published(stack, "charge.added", journey.visit_id)
    assert [e["data"]["kind"] for e in added].count("MEDICATION") == 1
    bill = await invoice(journey)
    assert (bill["total"], len(bill["items"])) == (500.0, 3)
    assert len(await published(stack, "visit.ready_for_payment", journey.visit_id)) == 1


# -- payments ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def waiting_at_the_till(stack: Stack) -> AsyncIterator[Journey]:
    """One visit waiting to pay, shared by tests that must leave it unchanged."""
    async with httpx.AsyncClient(timeout=15) as http:
        yield await ready_visit(stack, http)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"amount": -5}, "amount"),
        ({"amount": 0}, "amount"),
        ({"amount": 100.005}, "amount"),
        ({"amount": "12.345"}, "amount"),
        ({"amount": 500.01}, "amount"),  # more than the balance
        ({"amount": "lots"}, "amount"),
        ({"paymentType": "BITCOIN"}, "paymentType"),
        ({"paymentType": "MOBILE_MONEY"}, "reference"),  # M-Pesa needs its code
        ({"paymentType": "INSURANCE", "reference": "CLM-1"}, "payer"),
        ({"status": "PENDING"}, "status"),
        ({"processedBy": "alice_receptionist"}, "processedBy"),
        ({"discount": 100}, "discount"),
    ],
)
async def test_a_payment_the_till_may_not_take_gets_422_and_changes_nothing(
    stack: Stack, waiting_at_the_till: Journey, change: dict[str, Any], field: str
) -> None:
    journey = waiting_at_the_till
    before = await invoice(journey)
    response = await pay(journey, **change)
    assert response.status_code == 422, response.text
    problem = response.json()
    assert field in [e["field"] for e in problem["errors"]], problem
    assert await invoice(journey) == before
    assert await published(stack, "payment.completed", journey.visit_id) == []


async def test_partial_payments_settle_at_zero_and_a_settled_invoice_takes_no_more(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await ready_visit(stack, http)
    first = await pay(journey, amount=200, paymentType="mobile_money", reference="qgh7xk2l9p")
    assert first.status_code == 201, first.text
    receipt = first.json()
    assert (receipt["paymentType"], receipt["reference"]) == ("MOBILE_MONEY", "QGH7XK2L9P")
    assert (receipt["invoice"]["status"], receipt["invoice"]["balance"]) == (
        "READY_FOR_PAYMENT",
        300.0,
    )
    assert await published(stack, "invoice.settled", journey.visit_id) == []
    assert len(await payment_assignments(journey)) == 1

    second = await pay(
        journey, amount="300.00", paymentType="INSURANCE", reference="SHA-CLM-0042", payer="SHA"
    )
    assert second.status_code == 201, second.text
    assert second.json()["invoice"]["status"] == "PAID"
    [settled] = await published(stack, "invoice.settled", journey.visit_id)
    assert settled["data"]["paidAmount"] == 500.0
    assert [
        p["data"]["balance"] for p in await published(stack, "payment.completed", journey.visit_id)
    ] == [300.0, 0.0]

    await billing_heard(stack, journey, "COMPLETED")  # registration closed the visit
    paid = await invoice(journey)
    late = await pay(journey, amount=1)
    assert late.status_code == 409, late.text
    assert "paid in full" in late.json()["detail"]
    assert late.json()["current"] == paid
    assert await invoice(journey) == paid


async def test_only_the_till_takes_payments(stack: Stack, http: httpx.AsyncClient) -> None:
    journey = await ready_visit(stack, http)
    for user in ("alice_receptionist", "dr_smith", "lisa_pharmacist", "nurse_sarah"):
        response = await pay(journey, user=user, processedBy=user)
        assert response.status_code == 403, (user, response.text)
    for user in ("dr_smith", "lisa_pharmacist", "mike_lab_tech", "nurse_sarah"):
        response = await http.get(
            f"{journey.urls['billing']}/visits/{journey.visit_id}/invoice", headers=auth(user)
        )
        assert response.status_code == 403, (user, response.text)
    anonymous = await http.post(
        f"{journey.urls['billing']}/visits/{journey.visit_id}/payments", json=SCENARIO_PAYMENT
    )
    assert anonymous.status_code == 401
    unknown = await http.post(
        f"{journey.urls['billing']}/visits/visit_nosuchvisit/payments",
        headers=auth("tom_cashier"),
        json=SCENARIO_PAYMENT,
    )
    assert unknown.status_code == 404
    assert (await invoice(journey))["paid"] == 0.0
    assert await published(stack, "payment.completed", journey.visit_id) == []


async def test_a_retried_payment_with_the_same_key_is_taken_once(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = await ready_visit(stack, http)
    key = {"Idempotency-Key": f"till-{uuid.uuid4()}"}
    first = await pay(journey, headers=key, amount=100)
    again = await pay(journey, headers=key, amount=100)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert again.json() == first.json()
    reused = await pay(journey, headers=key, amount=150)  # the same key for another payment
    assert reused.status_code == 422
    bill = await invoice(journey)
    assert (len(bill["payments"]), bill["paid"], bill["balance"]) == (1, 100.0, 400.0)


@pytest.mark.slow
async def test_concurrent_payments_never_overpay(stack: Stack, http: httpx.AsyncClient) -> None:
    journey = await ready_visit(stack, http)
    responses = await asyncio.gather(*(pay(journey, amount=100) for _ in range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 5, [r.text for r in responses]
    assert set(statuses) - {201} <= {409, 422}, statuses
    bill = await invoice(journey)
    assert (bill["status"], bill["paid"], bill["balance"]) == ("PAID", 500.0, 0.0)
    assert len(bill["payments"]) == 5
    assert len(await published(stack, "invoice.settled", journey.visit_id)) == 1

    # Two tills taking the whole bill at the same moment: one of them gets it.
    other = await ready_visit(stack, http)
    both = await asyncio.gather(pay(other), pay(other))
    assert sorted(r.status_code for r in both)[0] == 201
    assert sorted(r.status_code for r in both)[1] in (409, 422)
    assert (await invoice(other))["paid"] == 500.0


async def test_a_cancelled_visit_takes_no_payment(stack: Stack, http: httpx.AsyncClient) -> None:
    # The desk cancels only a visit that has not started (issue 10): the patient left.
    journey = await registered_patient(stack, http)
    await journey.call(
        "PATCH",
        "registration",
        f"/visits/{journey.visit_id}",
        "alice_receptionist",
        json={
            "status": "CANCELLED",
            "cancellationReason": "Left before triage",
            "version": journey.patient["visit"]["version"],
        },
    )
    await billing_heard(stack, journey, "CANCELLED")
    refused = await pay(journey)
    assert refused.status_code == 409, refused.text
    assert "CANCELLED" in refused.json()["detail"]
    assert (await invoice(journey))["paid"] == 0.0


async def test_a_bill_paid_as_care_went_on_settles_when_the_last_order_closes(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """Paying what is due so far never waits for the visit's end (nor does care wait for it)."""
    journey = await registered_patient(stack, http)
    visit = VisitEvents.of(journey)
    for event in [
        visit.lab_request_created(),
        visit.prescription_created(),
        visit.consultation_completed(),
        visit.prescription_dispensed(),
    ]:
        await publish(stack, event)
        await handled(stack, event)
    early = await pay(journey, amount=300)
    assert early.status_code == 201, early.text
    assert (early.json()["invoice"]["status"], early.json()["invoice"]["balance"]) == ("OPEN", 0.0)
    assert await published(stack, "invoice.settled", journey.visit_id) == []

    await publish(stack, visit.lab_request_cancelled())
    [settled] = await eventually(lambda: published(stack, "invoice.settled", journey.visit_id))
    assert settled["data"]["totalAmount"] == 300.0
    assert len(await published(stack, "visit.ready_for_payment", journey.visit_id)) == 1
    assert (await invoice(journey))["status"] == "PAID"
    # Nothing left to collect: the patient never waits at the till.
    assert await payment_assignments(journey, status="ALL") == []
