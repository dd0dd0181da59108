"""Scenario step 1: Alice registers John Doe; Sarah and the staff see it live."""

from __future__ import annotations

import re

from tests.scenario import another_patient
from tests.support.live import StaffSocket
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually


async def test_registering_john_doe_notifies_sarah_and_the_staff(stack: Stack, http) -> None:
    payload = another_patient()
    async with (
        StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah,
        StaffSocket(stack.ws_url("alice_receptionist"), "alice_receptionist") as alice,
        StaffSocket(stack.ws_url("tom_cashier"), "tom_cashier") as tom,
    ):
        response = await http.post(
            f"{stack.url('registration')}/patients",
            json=payload,
            headers=auth("alice_receptionist"),
        )
        assert response.status_code == 201, response.text
        patient = response.json()
        patient_id, op_number = patient["id"], patient["opNumber"]
        assert re.fullmatch(r"OP\d+", op_number)
        assert patient["visit"]["status"] == "REGISTERED"
        assert patient["visit"]["opNumber"] == op_number
        assert patient["phoneNumber"] == "+254712345678"

        label = f"{payload['firstName']} {payload['lastName']} (OP#{op_number[2:]})"
        assignment = await sarah.wait_for("new_assignment", lambda d: d["patientId"] == patient_id)
        assert assignment["data"]["type"] == "patient_assignment"
        assert assignment["data"]["title"] == "New Patient Assigned"
        assert assignment["data"]["message"] == f"{label} assigned for triage"
        assert assignment["data"]["priority"] == "NORMAL"
        assert isinstance(assignment["id"], int)

        for staff in (sarah, alice, tom):
            frame = await staff.wait_for(
                "patient_registered", lambda d: d["patientId"] == patient_id
            )
            data = frame["data"]
            assert data["opNumber"] == op_number
            assert data["assignedTo"] == "nurse_sarah"
            assert data["registeredBy"] == "alice_receptionist"
            assert data["timestamp"]
        # The assignment is Sarah's alone.
        assert not [
            f for f in alice.events("new_assignment") if f["data"]["patientId"] == patient_id
        ]

    registration = await stack.connect_db("registration")
    try:
        row = await registration.fetchrow(
            "select p.first_name, p.last_name, p.age, p.insurance_type, v.status, v.op_number"
            " from patients p join visits v on v.patient_id = p.id where p.id = $1",
            patient_id,
        )
        assert dict(row) == {
            "first_name": "John",
            "last_name": payload["lastName"],
            "age": 35,
            "insurance_type": "CASH",
            "status": "REGISTERED",
            "op_number": op_number,
        }
        audit = await registration.fetch(
            "select actor_id, action, resource from audit_log where resource_id = $1", patient_id
        )
        assert [tuple(a) for a in audit] == [("alice_receptionist", "CREATE", "PATIENT")]
    finally:
        await registration.close()

    triage = await stack.connect_db("triage")
    try:
        rows = await triage.fetch(
            "select assigned_to_user_id, assignment_type, status, op_number, patient_name"
            " from assignments where patient_id = $1",
            patient_id,
        )
        assert [dict(r) for r in rows] == [
            {
                "assigned_to_user_id": "nurse_sarah",
                "assignment_type": "TRIAGE",
                "status": "ACTIVE",
                "op_number": op_number,
                "patient_name": f"John {payload['lastName']}",
            }
        ]
    finally:
        await triage.close()

    worklist = await http.get(
        f"{stack.url('triage')}/assignments",
        params={"mine": "true", "patientId": patient_id},  # her worklist is paged
        headers=auth("nurse_sarah"),
    )
    assert worklist.status_code == 200
    assert patient_id in [a["patientId"] for a in worklist.json()]


async def test_with_nobody_on_duty_the_patient_waits_in_the_triage_queue(
    stack: Stack, http
) -> None:
    triage = stack.url("triage")
    off = await http.post(f"{triage}/duty", json={"onDuty": False}, headers=auth("nurse_sarah"))
    assert off.status_code == 200, off.text
    try:
        async with StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah:
            response = await http.post(
                f"{stack.url('registration')}/patients",
                json=another_patient(),
                headers=auth("alice_receptionist"),
            )
            patient_id = response.json()["id"]
            # Sarah is a triage nurse: the queue's notification reaches her role.
            frame = await sarah.wait_for("new_assignment", lambda d: d["patientId"] == patient_id)
            assert frame["data"]["assignedTo"] is None
            assert "waiting in the triage queue" in frame["data"]["message"]
            registered = await sarah.wait_for(
                "patient_registered", lambda d: d["patientId"] == patient_id
            )
            assert registered["data"]["assignedTo"] is None

        async def queue() -> list[dict]:
            r = await http.get(
                f"{triage}/assignments",
                params={"patientId": patient_id},
                headers=auth("nurse_sarah"),
            )
            return [a for a in r.json() if a["patientId"] == patient_id]

        waiting = await eventually(queue)
        assert waiting[0]["assignedToUserId"] is None
        # Sarah claims it from the queue.
        claim = await http.patch(
            f"{triage}/assignments/{waiting[0]['id']}",
            json={"assignedToUserId": "nurse_sarah", "version": waiting[0]["version"]},
            headers=auth("nurse_sarah"),
        )
        assert claim.status_code == 200, claim.text
        assert claim.json()["assignedToUserId"] == "nurse_sarah"
        assert claim.json()["version"] == waiting[0]["version"] + 1
    finally:
        on = await http.post(f"{triage}/duty", json={"onDuty": True}, headers=auth("nurse_sarah"))
        assert on.status_code == 200
