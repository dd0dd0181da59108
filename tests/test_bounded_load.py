"""A bounded load (issue 13, item 5): correctness under load, not speed.

Two replicas of triage and two of the notifier; 2,000 staff sockets split between the notifier
replicas. For 10 seconds, 200 writes a second: nurses update 20 patients' triage encounters
(each encounter written in turn, version by version, alternating between the triage replicas),
and five patients are registered meanwhile. Then every socket is checked:
- the clinical team's sockets got every encounter update once, each patient's in the order
  written;
- nobody else got a single one of them (clinical data, DESIGN.md section 4);
- every socket got each of the five registrations once.
Nothing here asserts a time: the rate reached is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import resource
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from tests.support.journey import Journey
from tests.support.live import StaffSocket
from tests.support.stack import ServiceProcess, Stack, auth
from tests.support.waiting import eventually

SOCKETS = 2000
WRITERS = 20  # encounters written concurrently
WRITES_PER_SECOND = 200
SECONDS = 10
REGISTRATIONS = 5
# Who may see a triage encounter's contents, and who may not (kliniki.access).
CLINICAL_TEAM = ["nurse_sarah", "nurse_joy", "sister_grace", "dr_smith"]
OTHERS = ["alice_receptionist", "mike_lab_tech", "lisa_pharmacist", "tom_cashier", "admin"]
CLINICAL_SOCKETS = 40  # ten each for the clinical team; the rest are the others'
DELIVERY_WAIT = 300.0  # generous: a loaded CI machine drains the backlog slowly


def batches(items: list[StaffSocket], size: int) -> list[list[StaffSocket]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _raise_open_files_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


@pytest.fixture(scope="module")
def replicas(stack: Stack) -> Iterator[list[ServiceProcess]]:
    """A second triage and a second notifier on the run's databases and broker names."""
    _raise_open_files_limit()  # before the replicas start, so that they inherit it
    started = [stack.start("triage", name="triage-2"), stack.start("notifier", name="notifier-2")]
    try:
        for proc in started:
            stack.wait_ready(proc)
        yield started
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture
async def sockets(stack: Stack, replicas: list[ServiceProcess]) -> AsyncIterator[list[StaffSocket]]:
    notifiers = [stack.processes["notifier"], replicas[1]]
    users = [CLINICAL_TEAM[i % len(CLINICAL_TEAM)] for i in range(CLINICAL_SOCKETS)] + [
        OTHERS[i % len(OTHERS)] for i in range(SOCKETS - CLINICAL_SOCKETS)
    ]
    opened = [
        StaffSocket(stack.ws_url(user, notifiers[i % 2]), user) for i, user in enumerate(users)
    ]
    for batch in batches(opened, 100):
        await asyncio.gather(*(s.connect() for s in batch))
    try:
        yield opened
    finally:
        for batch in batches(opened, 200):
            await asyncio.gather(*(s.close() for s in batch), return_exceptions=True)


async def triaged_encounter(journey: Journey) -> dict[str, Any]:
    """A registered patient's triage encounter, once triage has taken them in (the intake may
    lag on a loaded machine: this is setup, not what is measured)."""
    await journey.register()
    encounters = await eventually(
        lambda: journey.call(
            "GET", "triage", f"/encounters?visitId={journey.visit_id}", "nurse_sarah"
        ),
        timeout=180,
        interval=0.5,
    )
    return encounters[0]


def note(writer: int, n: int) -> str:
    return f"Load note {writer} {n}"


async def write_encounter(
    http: httpx.AsyncClient,
    triage_urls: list[str],
    writer: int,
    encounter: dict[str, Any],
    writes: int,
    started: float,
) -> int:
    """Update one encounter ``writes`` times, one every 1/rate second per writer (paced, not
    a closed loop), each write naming the version the previous one returned."""
    version = encounter["version"]
    interval = WRITERS / WRITES_PER_SECOND
    for n in range(writes):
        await asyncio.sleep(max(0.0, started + n * interval - time.monotonic()))
        url = f"{triage_urls[n % 2]}/encounters/{encounter['id']}"
        answer = await http.patch(
            url,
            json={"chiefComplaint": note(writer, n), "version": version},
            headers=auth("nurse_sarah"),
        )
        assert answer.status_code == 200, answer.text
        version = answer.json()["version"]
    return writes


async def test_two_hundred_writes_a_second_reach_two_thousand_sockets_once_and_in_order(
    stack: Stack, replicas: list[ServiceProcess], sockets: list[StaffSocket]
) -> None:
    triage_urls = [stack.url("triage"), replicas[0].url]
    # A fresh connection per request: no keep-alive race with a loaded server closing one.
    limits = httpx.Limits(max_connections=WRITERS + 10, max_keepalive_connections=0)
    async with httpx.AsyncClient(timeout=60, limits=limits) as http:
        urls = {s: stack.url(s) for s in stack.processes}
        journeys = [Journey(http, urls) for _ in range(WRITERS)]
        encounters = await asyncio.gather(*(triaged_encounter(j) for j in journeys))
        patients = {j.patient_id: w for w, j in enumerate(journeys)}

        writes = WRITES_PER_SECOND * SECONDS // WRITERS
        newcomers = [Journey(http, urls) for _ in range(REGISTRATIONS)]

        async def register_during_the_load() -> None:
            for journey in newcomers:
                await asyncio.sleep(SECONDS / REGISTRATIONS)
                await journey.register()

        started = time.monotonic()
        results = await asyncio.gather(
            *(
                write_encounter(http, triage_urls, w, e, writes, started)
                for w, e in enumerate(encounters)
            ),
            register_during_the_load(),
        )
        took = time.monotonic() - started
    total = sum(r for r in results if isinstance(r, int))
    print(f"\n{total} encounter writes in {took:.1f} s ({total / took:.0f}/s)")

    newcomer_ids = {j.patient_id for j in newcomers}
    clinical = [s for s in sockets if s.user in CLINICAL_TEAM]
    others = [s for s in sockets if s.user not in CLINICAL_TEAM]

    def updates_of_ours(socket: StaffSocket) -> list[dict[str, Any]]:
        """The load's updates (not the triage step's own, made before it)."""
        return [
            f["data"]
            for f in socket.frames
            if f["event"] == "patient_updated"
            and f["data"]["patientId"] in patients
            and str(f["data"]["updates"].get("chiefComplaint", "")).startswith("Load note")
        ]

    def registrations_of_ours(socket: StaffSocket) -> list[str]:
        return [
            f["data"]["patientId"]
            for f in socket.frames
            if f["event"] == "patient_registered" and f["data"]["patientId"] in newcomer_ids
        ]

    def all_delivered() -> bool:
        return all(len(updates_of_ours(s)) >= total for s in clinical) and all(
            len(set(registrations_of_ours(s))) == REGISTRATIONS for s in sockets
        )

    async def delivered() -> bool:
        return all_delivered()

    # Past the wait, the checks below name what is missing.
    with contextlib.suppress(AssertionError):
        await eventually(delivered, timeout=DELIVERY_WAIT, interval=1)
    await asyncio.sleep(2)  # anything sent twice would arrive by now
    print(f"delivered {time.monotonic() - started:.1f} s after the first write")

    assert all(not s.closed for s in sockets), "a socket was closed under the load"
    for socket in clinical:
        seen = updates_of_ours(socket)
        for writer in range(WRITERS):
            notes = [
                u["updates"]["chiefComplaint"] for u in seen if patients[u["patientId"]] == writer
            ]
            assert notes == [note(writer, n) for n in range(writes)], (
                f"{socket.user}: patient {writer}'s updates lost, doubled or out of order"
            )
        ids = [f["id"] for f in socket.frames if "id" in f]
        assert ids == sorted(ids) and len(ids) == len(set(ids)), f"{socket.user}: cursor ids"
    for socket in others:
        assert not [f for f in socket.frames if f["event"] == "patient_updated"], (
            f"{socket.user} saw a triage encounter's contents"
        )
    for socket in sockets:
        counts = Counter(registrations_of_ours(socket))
        assert counts == Counter(dict.fromkeys(newcomer_ids, 1)), (
            f"{socket.user}: registrations missed or doubled: {counts}"
        )
