"""Waiting-time escalation by SATS colour (issue 14, item 1), with targets set to seconds.

Replicas of triage and clinical run beside the suite's own with short targets; each escalation
is sent once (level 1 past the target, level 2 past twice), whichever replica finds it, and a
replica killed in between loses nothing.
"""

from __future__ import annotations

import asyncio
import json
import signal
from typing import Any

import httpx

from tests.support.journey import Journey
from tests.support.live import StaffSocket
from tests.support.stack import ServiceProcess, Stack, auth
from tests.support.waiting import eventually

# Minutes: 0.1 = 6 s. UNTRIAGED is the wait for triage itself.
TARGETS = {"RED": 0, "ORANGE": 0.1, "YELLOW": 5, "GREEN": 30, "UNTRIAGED": 0.1}


def fast_replica(stack: Stack, service: str, name: str) -> ServiceProcess:
    return stack.start(
        service,
        name=name,
        KLINIKI_WAIT_TARGET_MINUTES=json.dumps(TARGETS),
        KLINIKI_ESCALATION_POLL_SECONDS="0.3",
    )


async def escalations(stack: Stack, patient_id: str) -> list[dict[str, Any]]:
    db = await stack.connect_db("notifier")
    try:
        rows = await db.fetch(
            "select data, recipient_roles from notifications"
            " where event = 'wait_time_exceeded' and patient_id = $1 order by id",
            patient_id,
        )
        return [{**json.loads(r["data"]), "roles": r["recipient_roles"]} for r in rows]
    finally:
        await db.close()


async def test_a_patient_waiting_for_triage_escalates_once_then_at_twice_the_target(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    replicas = [fast_replica(stack, "triage", f"triage-fast-{i}") for i in (1, 2)]
    try:
        for replica in replicas:
            await asyncio.to_thread(stack.wait_ready, replica)
        async with (
            StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah,
            StaffSocket(stack.ws_url("sister_grace"), "sister_grace") as grace,
            StaffSocket(stack.ws_url("tom_cashier"), "tom_cashier") as tom,
        ):
            journey = Journey(http, {s: stack.url(s) for s in stack.processes})
            await journey.register()
            pid = journey.patient_id
            first = await sarah.wait_for(
                "wait_time_exceeded", lambda d: d["patientId"] == pid, timeout=30
            )
            assert (first["data"]["stage"], first["data"]["level"]) == ("TRIAGE", 1)
            assert first["data"]["targetMinutes"] == TARGETS["UNTRIAGED"]
            assert first["data"]["minutesWaited"] >= TARGETS["UNTRIAGED"]
            assert "waited" in first["data"]["message"]
            await grace.wait_for("wait_time_exceeded", lambda d: d["patientId"] == pid)

            # One replica dies in between: the other sends the second escalation, once.
            replicas[0].stop(signal.SIGKILL)
            second = await sarah.wait_for(
                "wait_time_exceeded",
                lambda d: d["patientId"] == pid and d["level"] == 2,
                timeout=30,
            )
            assert "again" in second["data"]["message"]
            await asyncio.sleep(TARGETS["UNTRIAGED"] * 60 + 2)  # a third would be due by now
            mine = [f for f in sarah.events("wait_time_exceeded") if f["data"]["patientId"] == pid]
            assert [f["data"]["level"] for f in mine] == [1, 2]
            assert not [
                f for f in tom.events("wait_time_exceeded") if f["data"]["patientId"] == pid
            ]
        stored = await escalations(stack, pid)
        assert [e["level"] for e in stored] == [1, 2]
        assert set(stored[0]["roles"]) == {"triage_nurse", "in_charge"}
    finally:
        for replica in replicas:
            replica.stop()


async def test_an_orange_patient_not_seen_escalates_and_one_seen_in_time_does_not(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    replica = fast_replica(stack, "clinical", "clinical-fast")
    try:
        await asyncio.to_thread(stack.wait_ready, replica)
        urls = {s: stack.url(s) for s in stack.processes}
        waiting, seen = Journey(http, urls), Journey(http, urls)
        for journey in (waiting, seen):
            await journey.register()
            await journey.triage("ORANGE")
            [encounter] = await journey.call(
                "GET", "triage", f"/encounters?visitId={journey.visit_id}", "nurse_sarah"
            )
            assert encounter["triageColour"] == "ORANGE"
            await journey.complete_assignment("triage", "nurse_sarah")
            await journey.assignment("clinical", "dr_smith")
        # Dr. Smith sees one of them at once.
        await seen.call(
            "POST",
            "clinical",
            f"/patients/{seen.patient_id}/diagnoses",
            "dr_smith",
            201,
            json={"diagnosisCode": "R07.4"},
        )
        await seen.complete_assignment("clinical", "dr_smith")

        stored = await eventually(
            lambda: escalations(stack, waiting.patient_id),
            lambda found: len(found) == 2,
            timeout=45,
        )
        assert [(e["stage"], e["colour"], e["level"]) for e in stored] == [
            ("CONSULTATION", "ORANGE", 1),
            ("CONSULTATION", "ORANGE", 2),
        ]
        assert stored[0]["targetMinutes"] == TARGETS["ORANGE"]
        assert set(stored[0]["roles"]) == {"clinical_officer", "in_charge"}
        assert await escalations(stack, seen.patient_id) == []
        # The till is not told of a clinical wait.
        response = await http.get(
            f"{stack.url('notifier')}/notifications", headers=auth("tom_cashier")
        )
        assert not [
            n
            for n in response.json()
            if n["event"] == "wait_time_exceeded" and n["data"]["patientId"] == waiting.patient_id
        ]
    finally:
        replica.stop()
