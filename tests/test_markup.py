"""Markup is neither stored in names nor echoed to colleagues (issue 10, item 9).

Names (a medication, a diagnosis, a staff member's) appear in worklist reasons, invoice lines,
audit and live frames: they are checked strictly. Free text (notes) stays as typed, and every
answer tells the browser not to run it (tests/test_edge.py checks the headers).
"""

from __future__ import annotations

import asyncio
import datetime as dt

import httpx

from tests.support.journey import Journey
from tests.support.live import StaffSocket
from tests.support.stack import Stack, auth, signed_token
from tests.support.waiting import eventually

SCRIPT = "<script>alert(1)</script>"


async def test_names_with_markup_are_refused_and_notes_are_kept_as_text(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    clinical = stack.url("clinical")
    await eventually(
        lambda: http.get(
            f"{clinical}/patients/{journey.patient_id}/record", headers=auth("dr_smith")
        ),
        lambda r: r.status_code == 200,
    )
    prescription = await http.post(
        f"{clinical}/patients/{journey.patient_id}/prescriptions",
        json={
            "medicationName": f"Morphine {SCRIPT}",
            "dosage": "10mg",
            "frequency": "Once",
            "duration": "1 day",
        },
        headers=auth("dr_smith"),
    )
    assert prescription.status_code == 422, prescription.text
    assert prescription.json()["errors"][0]["field"] == "medicationName"
    diagnosis = await http.post(
        f"{clinical}/patients/{journey.patient_id}/diagnoses",
        json={"diagnosisCode": "R07.4", "diagnosisName": "<b>Chest pain</b>"},
        headers=auth("dr_smith"),
    )
    assert diagnosis.status_code == 422
    assert diagnosis.json()["errors"][0]["field"] == "diagnosisName"

    noted = await http.post(
        f"{clinical}/patients/{journey.patient_id}/diagnoses",
        json={"diagnosisCode": "R07.4", "notes": "<svg onload=alert(1)> pain 7/10"},
        headers=auth("dr_smith"),
    )
    assert noted.status_code == 201, noted.text
    assert noted.json()["notes"] == "<svg onload=alert(1)> pain 7/10"
    assert noted.headers["content-type"] == "application/json"
    assert noted.headers["x-content-type-options"] == "nosniff"
    record = await http.get(
        f"{clinical}/patients/{journey.patient_id}/record", headers=auth("dr_smith")
    )
    assert [d["diagnosisName"] for d in record.json()["diagnoses"]] == ["Chest pain, unspecified"]


async def test_presence_and_typing_echo_only_ids_and_plain_names(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    async with (
        StaffSocket(stack.ws_url("dr_smith"), "dr_smith") as smith,
        StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah,
    ):
        await sarah.send(
            "entity_edit_start", {"entityType": "patient", "entityId": journey.patient_id}
        )
        await sarah.wait_for("presence_state", lambda d: d["entityId"] == journey.patient_id)
        await smith.send(
            "entity_edit_start", {"entityType": "patient", "entityId": f"patient_1{SCRIPT}"}
        )
        error = await smith.wait_for("error", lambda d: d["inReplyTo"] == "entity_edit_start")
        assert "the id of that type" in error["data"]["message"]
        await smith.send(
            "entity_edit_start", {"entityType": "patient", "entityId": "visit_0123456789abcdef"}
        )
        await smith.wait_for(
            "error",
            lambda d: d["inReplyTo"] == "entity_edit_start" and len(smith.events("error")) > 1,
        )
        await smith.send(
            "typing_start", {"patientId": journey.patient_id, "field": f"notes{SCRIPT}"}
        )
        typing_error = await smith.wait_for("error", lambda d: d["inReplyTo"] == "typing_start")
        assert "field name" in typing_error["data"]["message"]
        await asyncio.sleep(0.3)
        assert not [f for f in sarah.frames if "<" in str(f)]

    # A token whose name carries markup is refused everywhere, the socket included.
    now = dt.datetime.now(dt.UTC)
    forged = signed_token(  # signed as identity signs: only the name is wrong
        {
            "sub": "nurse_sarah",
            "name": f"Sarah {SCRIPT}",
            "roles": ["triage_nurse"],
            "iat": now,
            "exp": now + dt.timedelta(minutes=5),
        }
    )
    refused = await http.get(
        f"{stack.url('triage')}/assignments", headers={"Authorization": f"Bearer {forged}"}
    )
    assert refused.status_code == 401
    assert "name claim" in refused.json()["detail"]
