"""The front desk's visits board (issue 12: each visit's live status and who has the patient
now) and the earlier visits in the clinical record.

Registration answers ``GET /visit-board`` from the departments' ``assignment.*`` events; the
notifier tells the front desk with ``visit_updated`` (a refresh, never a notification).
"""

from __future__ import annotations

from typing import Any

import httpx

from kliniki.events import CloudEvent
from tests.support.journey import Journey
from tests.support.live import StaffSocket
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually


async def board_row(http: httpx.AsyncClient, stack: Stack, visit_id: str) -> dict[str, Any]:
    """The visit's row on today's board as the receptionist sees it (following the pages)."""
    url, params = f"{stack.url('registration')}/visit-board", {"limit": "200"}
    while True:
        response = await http.get(url, params=params, headers=auth("alice_receptionist"))
        assert response.status_code == 200, response.text
        for row in response.json():
            if row["id"] == visit_id:
                return row
        cursor = response.headers.get("X-Next-Cursor")
        if not cursor:
            return {}
        params = {**params, "cursor": cursor}


def holders(row: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(s["stage"], s["assignedToName"]) for s in row.get("stages", [])]


async def test_the_board_shows_who_has_the_patient_now_live(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    async with StaffSocket(stack.ws_url("alice_receptionist"), "alice_receptionist") as alice:
        journey = Journey(http, {s: stack.url(s) for s in stack.processes})
        await journey.register()
        visit_id = journey.visit_id
        triage = await journey.assignment("triage", "nurse_sarah")
        nurse = triage["assignedToUserId"]
        assert nurse, "a triage nurse is on duty in the suite's staff file"

        row = await eventually(
            lambda: board_row(http, stack, visit_id),
            lambda r: holders(r) == [("TRIAGE", triage["assignedToName"])],
        )
        assert row["patientName"] == f"{journey.patient['firstName']} {journey.patient['lastName']}"
        assert row["status"] == "REGISTERED"
        await alice.wait_for("visit_updated", lambda d: d["visitId"] == visit_id)

        # Back to the shared queue: "Waiting — Triage" on the board; then Sarah claims him.
        back = await journey.call(
            "PATCH",
            "triage",
            f"/assignments/{triage['id']}",
            nurse,
            json={"assignedToUserId": None, "version": triage["version"]},
        )
        await eventually(
            lambda: board_row(http, stack, visit_id),
            lambda r: holders(r) == [("TRIAGE", None)],
        )
        await journey.call(
            "PATCH",
            "triage",
            f"/assignments/{triage['id']}",
            "nurse_sarah",
            json={"assignedToUserId": "nurse_sarah", "version": back["version"]},
        )
        await eventually(
            lambda: board_row(http, stack, visit_id),
            lambda r: holders(r) == [("TRIAGE", "Sarah Achieng")],
        )

        # Triaged and handed on: the triage stage closes, consultation opens with its doctor.
        await journey.triage("URGENT")
        await journey.complete_assignment("triage", "nurse_sarah")
        consultation = await journey.assignment("clinical", "dr_smith")
        row = await eventually(
            lambda: board_row(http, stack, visit_id),
            lambda r: (
                holders(r) == [("CONSULTATION", consultation["assignedToName"])]
                and r["status"] == "WAITING_CONSULTATION"
            ),
        )
        assert row["stages"][0]["escalationLevel"] == 0

    # The refreshes reached the front desk but are no notifications of hers.
    listed = await http.get(
        f"{stack.url('notifier')}/notifications", headers=auth("alice_receptionist")
    )
    assert listed.status_code == 200
    assert all(n["event"] != "visit_updated" for n in listed.json())
    async with StaffSocket(stack.ws_url("tom_cashier"), "tom_cashier") as tom:
        await tom.send("resume", {"after": 0})
        await tom.wait_for("resumed")
        assert tom.events("visit_updated") == []  # the till is not the front desk


async def test_the_board_is_for_staff_who_read_visits(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    url = f"{stack.url('registration')}/visit-board"
    quiet = await http.get(url, params={"date": "2001-01-01"}, headers=auth("alice_receptionist"))
    assert (quiet.status_code, quiet.json()) == (200, [])
    bad = await http.get(url, params={"date": "today"}, headers=auth("alice_receptionist"))
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "date"
    assert (await http.get(url)).status_code == 401


async def test_the_record_shows_earlier_visits_with_their_diagnoses(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    first_visit = journey.visit_id
    await journey.triage("URGENT")
    await journey.complete_assignment("triage", "nurse_sarah")
    await journey.assignment("clinical", "dr_smith")
    await journey.call(
        "POST",
        "clinical",
        f"/patients/{journey.patient_id}/diagnoses",
        "dr_smith",
        201,
        json={"diagnosisCode": "I21.9"},
    )
    # Billing settles the first visit (as its event would), so a second one may open.
    settled = CloudEvent(
        source="/services/billing",
        type="invoice.settled.v1",
        subject=journey.patient_id,
        visitid=first_visit,
        actorid="tom_cashier",
        data={
            "visitId": first_visit,
            "patientId": journey.patient_id,
            "totalAmount": 500.0,
            "paidAmount": 500.0,
            "paymentType": "CASH",
            "settledBy": "tom_cashier",
            "settledAt": "2026-12-04T09:00:00+00:00",
        },
    )
    await stack.publish_raw("billing", "invoice.settled", settled.to_json_bytes())

    async def visit_status() -> str:
        visit = await journey.call(
            "GET", "registration", f"/visits/{first_visit}", "alice_receptionist"
        )
        return visit["status"]

    await eventually(visit_status, lambda s: s == "COMPLETED")
    second = await journey.call(
        "POST",
        "registration",
        f"/patients/{journey.patient_id}/visits",
        "alice_receptionist",
        201,
        json={},
    )

    async def record() -> dict[str, Any]:
        return await journey.call(
            "GET", "clinical", f"/patients/{journey.patient_id}/record", "dr_smith"
        )

    found = await eventually(record, lambda r: r["visitId"] == second["id"])
    assert found["diagnoses"] == []
    [earlier] = found["earlierVisits"]
    assert earlier["visitId"] == first_visit
    assert earlier["status"] == "COMPLETED"
    assert earlier["openedAt"]
    assert [d["diagnosisCode"] for d in earlier["diagnoses"]] == ["I21.9"]
    assert earlier["diagnoses"][0]["diagnosisName"].startswith("Acute myocardial infarction")
