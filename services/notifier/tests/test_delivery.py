"""Stored notifications over real sockets: who gets what, replay after a reconnect, several
replicas, a replica killed, and a client that stops reading."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import signal
import socket
from typing import Any

import httpx
import websockets

from services.notifier.tests.live_support import (
    ALL_ROLES,
    EXPIRY_WAIT,
    LiveSocket,
    last_notification_id,
    patient_id,
    replica,
    store_notifications,
)
from tests.scenario import another_patient
from tests.support.live import StaffSocket
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually

ROLE_OF = {
    "alice_receptionist": "receptionist",
    "nurse_sarah": "triage_nurse",
    "dr_smith": "clinical_officer",
    "mike_lab_tech": "lab_technician",
    "lisa_pharmacist": "pharmacist",
    "tom_cashier": "cashier",
    "admin": "admin",
}
CLINICAL = {"triage_nurse", "clinical_officer", "lab_technician", "pharmacist"}
DESK = {"receptionist", "cashier", "admin"}

# The scenario's frames with their scenario fields, plus the clinical extras a frame may carry.
SCENARIO_FRAMES: dict[str, dict[str, Any]] = {
    "patient_registered": {"opNumber": "OP12345", "assignedTo": "nurse_sarah"},
    "new_assignment": {"title": "New Patient Assigned", "chiefComplaint": "Severe chest pain"},
    "patient_updated": {"updates": {"triageCategory": "URGENT"}, "updatedBy": "nurse_sarah"},
    "patient_assignment_updated": {"message": "John Doe triaged as URGENT - chest pain"},
    "new_lab_request": {"testType": "CARDIAC_ENZYMES", "urgency": "URGENT"},
    "lab_results_ready": {"results": {"troponinI": "2.5 ng/mL"}, "urgency": "URGENT"},
    "prescription_ready": {"medicationName": "Aspirin", "status": "READY_FOR_DISPENSING"},
    "prescription_updated": {
        "status": "DISPENSED",
        "medicationName": "Aspirin",
        "dosage": "325mg",
        "dispensingNotes": "Patient counseled on aspirin therapy and MI symptoms",
    },
    "patient_ready_for_payment": {"totalAmount": 500.0, "paymentType": "CASH"},
    "visit_completed": {
        "totalAmount": 500.0,
        "dischargeNotes": "Patient stable, medication dispensed",
        "diagnosis": "Acute myocardial infarction",
    },
    "follow_up_scheduled": {"appointmentDate": "2024-01-15", "notes": "Post-MI follow-up"},
}
# Written out here, not read from kliniki.access: this is what the test holds the code to.
RECEIVERS: dict[str, set[str]] = {
    "patient_registered": set(ROLE_OF.values()),
    "new_assignment": set(ROLE_OF.values()),
    "patient_updated": {"triage_nurse", "clinical_officer"},
    "patient_assignment_updated": CLINICAL,
    "new_lab_request": {"lab_technician", "clinical_officer"},
    "lab_results_ready": {"lab_technician", "clinical_officer"},
    "prescription_ready": {"pharmacist", "clinical_officer"},
    "prescription_updated": set(ROLE_OF.values()),
    "patient_ready_for_payment": DESK,
    "visit_completed": set(ROLE_OF.values()),
    "follow_up_scheduled": {"clinical_officer", "receptionist", "triage_nurse"},
}
HIDDEN_FROM_NON_CLINICAL: dict[str, set[str]] = {
    "new_assignment": {"chiefComplaint"},
    "prescription_updated": {"medicationName", "dosage", "dispensingNotes"},
    "visit_completed": {"dischargeNotes", "diagnosis"},
    "follow_up_scheduled": {"notes"},
}
CLINICAL_WORDS = re.compile(
    r"diagnos|medication|dosage|dispensingNotes|results|troponin|chiefComplaint|vital|notes",
    re.IGNORECASE,
)


async def test_each_role_gets_the_frames_its_work_needs_and_no_clinical_data_at_the_desk(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    john = patient_id()
    with replica(stack, "notifier-roles") as proc:
        sockets = {u: StaffSocket(stack.ws_url(u, proc), u) for u in ROLE_OF}
        async with contextlib.AsyncExitStack() as stack_of_sockets:
            for s in sockets.values():
                await stack_of_sockets.enter_async_context(s)
            rows = [
                (event, {"patientId": john, **data}, None, ALL_ROLES)
                for event, data in SCENARIO_FRAMES.items()
            ]
            ids = await store_notifications(stack, rows)
            # A last frame every role receives marks the end of the batch on each socket.
            (end,) = await store_notifications(
                stack, [("patient_registered", {"patientId": john, "end": True}, None, ALL_ROLES)]
            )
            for s in sockets.values():
                await s.wait_for("patient_registered", lambda d: d.get("end") is True)

            for user, s in sockets.items():
                role = ROLE_OF[user]
                got = {f["event"]: f for f in s.frames if f.get("id") in ids}
                expected = {e for e, roles in RECEIVERS.items() if role in roles}
                assert set(got) == expected, f"{user} ({role})"
                for event, frame in got.items():
                    sent = {"patientId": john, **SCENARIO_FRAMES[event]}
                    hidden = HIDDEN_FROM_NON_CLINICAL.get(event, set())
                    if role in CLINICAL:
                        assert frame["data"] == sent, (user, event)
                    else:
                        assert frame["data"] == {
                            k: v for k, v in sent.items() if k not in hidden
                        }, (user, event)
                if role in {"cashier", "receptionist"}:
                    text = json.dumps([f["data"] for f in got.values()])
                    assert not CLINICAL_WORDS.search(text), f"{user} saw clinical data: {text}"

            # A replay passes the same policy: the cashier resumes from before the batch.
            tom = sockets["tom_cashier"]
            async with StaffSocket(stack.ws_url("tom_cashier", proc), "tom_cashier") as again:
                await again.send("resume", {"after": ids[0] - 1})
                await again.wait_for("resumed")
                replayed = [f for f in again.frames if f.get("id") in [*ids, end]]
                assert [f["data"] for f in replayed] == [
                    f["data"] for f in tom.frames if f.get("id") in [*ids, end]
                ]


async def test_presence_and_typing_go_only_to_staff_who_may_open_the_record(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    john = patient_id()
    with replica(stack, "notifier-policy") as proc:
        async with (
            LiveSocket(stack.ws_url("dr_smith", proc), "dr_smith") as smith,
            LiveSocket(stack.ws_url("tom_cashier", proc), "tom_cashier") as tom,
            LiveSocket(stack.ws_url("alice_receptionist", proc), "alice_receptionist") as alice,
            LiveSocket(stack.ws_url("nurse_sarah", proc), "nurse_sarah") as sarah,
        ):
            for s in (smith, tom, alice, sarah):
                await s.open_entity("patient", john)
            # A clinical field reaches the nurse, not the desk.
            await smith.send("typing_start", {"patientId": john, "field": "diagnosis"})
            await sarah.wait_for("typing", lambda d: d["field"] == "diagnosis")
            # A demographic field reaches everyone who has the record open.
            await alice.send("typing_start", {"patientId": john, "field": "phoneNumber"})
            for s in (smith, tom, sarah):
                await s.wait_for("typing", lambda d: d["field"] == "phoneNumber")
            # The desk may not type in clinical fields, nor open clinical entities.
            await tom.send("typing_start", {"patientId": john, "field": "vital_signs"})
            error = await tom.wait_for("error", lambda d: d["inReplyTo"] == "typing_start")
            assert "vital_signs" in error["data"]["message"]
            await tom.send(
                "entity_edit_start", {"entityType": "encounter", "entityId": "encounter_1"}
            )
            error = await tom.wait_for("error", lambda d: d["inReplyTo"] == "entity_edit_start")
            assert "encounter" in error["data"]["message"]
            await smith.open_entity("encounter", "encounter_1")
            for s in (tom, alice):
                await s.round_trip()
            # Tom saw Alice type in the phone number, never Dr. Smith's diagnosis; Alice (who
            # typed it herself) saw no typing at all.
            assert [f["data"]["field"] for f in tom.events("typing")] == ["phoneNumber"]
            assert alice.events("typing") == []
            # Dr. Smith opening the encounter reached neither desk role.
            for s in (tom, alice):
                assert not [
                    f
                    for f in s.frames
                    if f["event"].startswith("presence") and f["data"]["entityType"] == "encounter"
                ]
            assert [f["data"]["entityType"] for f in tom.events("presence_state")] == ["patient"]

            r = await http.get(
                f"{proc.url}/presence",
                params={"entityType": "encounter", "entityId": "encounter_1"},
                headers=auth("tom_cashier"),
            )
            assert r.status_code == 403, r.text
            r = await http.get(
                f"{proc.url}/presence",
                params={"entityType": "encounter", "entityId": "encounter_1"},
                headers=auth("nurse_sarah"),
            )
            assert [m["userId"] for m in r.json()["members"]] == ["dr_smith"]
            r = await http.get(f"{proc.url}/presence", params={"entityType": "patient"})
            assert r.status_code in (401, 422)


async def test_replay_after_a_disconnect_sends_all_fifty_in_order_once(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    """Sarah's Wi-Fi drops while 50 notifications are sent to her; she resumes."""
    before = await last_notification_id(stack)
    async with StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah:
        await sarah.send("resume", {"after": before})
        await sarah.wait_for("resumed")
        cursor = max([before, *(f["id"] for f in sarah.frames if "id" in f)])

    # 25 registrations: each tells Sarah patient_registered and new_assignment = 50.
    registered: list[str] = []
    for _ in range(25):
        r = await http.post(
            f"{stack.url('registration')}/patients",
            json=another_patient(),
            headers=auth("alice_receptionist"),
        )
        assert r.status_code == 201, r.text
        registered.append(r.json()["id"])

    db = await stack.connect_db("notifier")
    try:

        async def stored_for_sarah() -> list[int]:
            rows = await db.fetch(
                "select id from notifications where id > $1 and patient_id = any($2::text[])"
                " and (recipient_user_id = 'nurse_sarah' or (recipient_user_id is null"
                " and recipient_roles && array['triage_nurse']))"
                " order by id",
                cursor,
                registered,
            )
            return [r["id"] for r in rows]

        missed = await eventually(stored_for_sarah, lambda ids: len(ids) >= 50, timeout=60)
    finally:
        await db.close()
    assert len(missed) == 50

    async with StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah:
        await sarah.send("resume", {"after": cursor})
        await sarah.wait_for("resumed")
        # Let anything late arrive, then check: a ping answered means all before it was sent.
        await sarah.send("ping")
        await sarah.wait_for("pong")
        ids = [f["id"] for f in sarah.frames if "id" in f]
        ours = [i for i in ids if i in set(missed)]
        assert ours == missed, "all 50, in order, once"
        assert ids == sorted(ids) and len(ids) == len(set(ids))
        kinds = [f["event"] for f in sarah.frames if f.get("id") in set(missed)]
        assert kinds.count("patient_registered") == 25
        assert kinds.count("new_assignment") == 25
        resumed = sarah.events("resumed")[0]["data"]
        assert resumed["cursor"] >= missed[-1]


async def test_each_connection_gets_each_notification_once_across_replicas(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    with (
        replica(stack, "notifier-x") as x,
        replica(stack, "notifier-y") as y,
    ):
        async with (
            StaffSocket(stack.ws_url("nurse_sarah", x), "nurse_sarah") as on_x1,
            StaffSocket(stack.ws_url("nurse_sarah", x), "nurse_sarah") as on_x2,
            StaffSocket(stack.ws_url("nurse_sarah", y), "nurse_sarah") as on_y,
            StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as on_main,
        ):
            sockets = [on_x1, on_x2, on_y, on_main]
            # Registrations at once: several replicas store and announce concurrently.
            responses = await asyncio.gather(
                *(
                    http.post(
                        f"{stack.url('registration')}/patients",
                        json=another_patient(),
                        headers=auth("alice_receptionist"),
                    )
                    for _ in range(8)
                )
            )
            patients = {r.json()["id"] for r in responses}
            for s in sockets:
                for p in patients:
                    await s.wait_for("patient_registered", lambda d, p=p: d["patientId"] == p)
                    await s.wait_for("new_assignment", lambda d, p=p: d["patientId"] == p)
                await s.send("ping")
                await s.wait_for("pong")
            for s in sockets:
                mine = [f for f in s.frames if f.get("data", {}).get("patientId") in patients]
                assert len(mine) == 16, [(f["event"], f["id"]) for f in mine]
                ids = [f["id"] for f in s.frames if "id" in f]
                assert len(ids) == len(set(ids)), "no duplicates"
                assert ids == sorted(ids), "in id order"


async def test_killing_a_replica_loses_nothing_for_its_users(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    john = patient_id()
    with replica(stack, "notifier-doomed") as doomed, replica(stack, "notifier-left") as left:
        async with LiveSocket(stack.ws_url("dr_smith", left), "dr_smith") as smith:
            await smith.open_entity("patient", john)
            sarah = LiveSocket(stack.ws_url("nurse_sarah", doomed), "nurse_sarah")
            await sarah.connect()
            await sarah.open_entity("patient", john)
            await smith.wait_join(john, "nurse_sarah")
            # A notification while connected to the doomed replica.
            first = await register(stack, http)
            await sarah.wait_for("new_assignment", lambda d: d["patientId"] == first)
            cursor = max(f["id"] for f in sarah.frames if "id" in f)

            doomed.stop(signal.SIGKILL)  # no goodbye to anyone
            await sarah.wait_closed()
            # Her presence leaves everywhere once the dead replica's heartbeats stop.
            await smith.wait_leave(john, "nurse_sarah", timeout=EXPIRY_WAIT)
            missed = [await register(stack, http) for _ in range(3)]

            # Her client reconnects to the replica still standing and resumes.
            async with StaffSocket(stack.ws_url("nurse_sarah", left), "nurse_sarah") as back:
                await back.send("resume", {"after": cursor})
                await back.wait_for("resumed")
                for p in missed:
                    await back.wait_for("new_assignment", lambda d, p=p: d["patientId"] == p)
                    await back.wait_for("patient_registered", lambda d, p=p: d["patientId"] == p)
                await back.send("ping")
                await back.wait_for("pong")
                ids = [f["id"] for f in back.frames if "id" in f]
                assert ids == sorted(set(ids)), "in order, once"
                assert all(i > cursor for i in ids)
                got = [f["data"]["patientId"] for f in back.events("new_assignment")]
                # Several replicas store concurrently: the id order, not the registration
                # order, is the order of delivery.
                assert sorted(p for p in got if p in missed) == sorted(missed)


async def register(stack: Stack, http: httpx.AsyncClient) -> str:
    """Alice registers a patient: Sarah gets new_assignment, all staff patient_registered."""
    r = await http.post(
        f"{stack.url('registration')}/patients",
        json=another_patient(),
        headers=auth("alice_receptionist"),
    )
    assert r.status_code == 201, r.text
    return r.json()["id"]


async def test_a_client_that_stops_reading_does_not_delay_anyone_else(stack: Stack) -> None:
    john = patient_id()
    with replica(
        stack,
        "notifier-slow",
        KLINIKI_WS_SEND_BUFFER_FRAMES="50",
        KLINIKI_WS_CLOSE_TIMEOUT_SECONDS="30",
    ) as proc:
        async with (
            LiveSocket(stack.ws_url("nurse_sarah", proc), "nurse_sarah") as sarah,
            LiveSocket(stack.ws_url("dr_smith", proc), "dr_smith") as smith,
        ):
            await sarah.open_entity("patient", john)
            # The stuck client: a tiny receive buffer, and it never reads.
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", proc.port))
            stuck = await websockets.connect(
                stack.ws_url("lisa_pharmacist", proc), sock=sock, max_queue=1
            )
            await stuck.send(
                json.dumps(
                    {
                        "event": "entity_edit_start",
                        "data": {"entityType": "patient", "entityId": john},
                    }
                )
            )

            async def flood() -> None:  # every ping earns a pong it will not read
                with contextlib.suppress(websockets.ConnectionClosed):
                    for _ in range(200_000):
                        await stuck.send('{"event":"ping","data":{}}')

            flooding = asyncio.create_task(flood())

            async def slow_closed() -> float:
                r = await httpx.AsyncClient().get(f"{proc.url}/metrics")
                match = re.search(r"^kliniki_ws_slow_consumers_closed_total (\S+)$", r.text, re.M)
                return float(match.group(1)) if match else 0.0

            # Meanwhile the others talk as usual: Dr. Smith comes and types, Sarah sees it.
            await smith.open_entity("patient", john)
            await sarah.wait_join(john, "dr_smith")
            await smith.send("typing_start", {"patientId": john, "field": "diagnosis"})
            await sarah.wait_for("typing", lambda d: d["isTyping"])
            for _ in range(20):
                await sarah.round_trip()
            # The stuck one is closed; the others were never held up by it.
            await eventually(slow_closed, lambda n: n >= 1, timeout=60)
            await sarah.wait_leave(john, "lisa_pharmacist")
            flooding.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await flooding
            # When it reads again it finds the close code telling it to resume.
            with contextlib.suppress(websockets.ConnectionClosed):
                async for _ in stuck:
                    pass
            assert stuck.close_code == 4408, (stuck.close_code, stuck.close_reason)
            await sarah.round_trip()
            assert not sarah.closed and not smith.closed
