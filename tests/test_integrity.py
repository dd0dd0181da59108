"""No lost update: many clinicians saving the same record at once."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.journey import Journey
from tests.support.stack import Stack, auth


async def test_twenty_clients_on_one_encounter_one_write_per_version_nothing_lost(
    stack: Stack, http
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    start = await journey.triage()
    url = f"{stack.url('triage')}/encounters/{start['id']}"
    accepted: list[tuple[int, str]] = []  # (version after the write, what was written)
    conflicts = 0

    async def clinician(n: int) -> None:
        nonlocal conflicts
        user = "nurse_sarah" if n % 2 else "dr_smith"
        while True:
            current = (await http.get(url, headers=auth(user))).json()
            complaint = f"Chest pain, noted by clinician {n}"
            response = await http.patch(
                url,
                json={"chiefComplaint": complaint, "version": current["version"]},
                headers=auth(user),
            )
            if response.status_code == 200:
                accepted.append((response.json()["version"], complaint))
                return
            assert response.status_code == 409, response.text
            assert response.json()["current"]["version"] > current["version"]
            conflicts += 1

    await asyncio.gather(*(clinician(n) for n in range(20)))

    versions = sorted(v for v, _ in accepted)
    assert versions == list(range(start["version"] + 1, start["version"] + 21))
    final = (await http.get(url, headers=auth("dr_smith"))).json()
    last_version, last_complaint = max(accepted)
    assert final["version"] == last_version
    assert final["chiefComplaint"] == last_complaint
    # Every accepted write is in the audit trail, in order, each building on the one before.
    db = await stack.connect_db("triage")
    try:
        rows = await db.fetch(
            "select before->>'version' as before, after->>'version' as after,"
            " after->>'chiefComplaint' as complaint from audit_log"
            " where resource = 'ENCOUNTER' and resource_id = $1 and action <> 'READ'"
            " order by id",
            start["id"],
        )
    finally:
        await db.close()
    trail = [(int(r["before"]), int(r["after"]), r["complaint"]) for r in rows[1:]]  # after triage
    assert [(a, c) for _, a, c in trail] == sorted(accepted)
    assert all(after == before + 1 for before, after, _ in trail)
    print(f"20 writers: 20 accepted, {conflicts} refused with 409 and retried")


async def test_oversized_bodies_and_frames_are_refused_not_buffered(stack: Stack, http) -> None:
    import websockets

    huge = {"firstName": "John", "lastName": "Doe", "notes": "x" * 2_000_000}
    response = await http.post(
        f"{stack.url('registration')}/patients", json=huge, headers=auth("alice_receptionist")
    )
    assert response.status_code == 413
    assert "limited to" in response.json()["detail"]

    async with websockets.connect(stack.ws_url("nurse_sarah"), max_size=2**22) as ws:
        await ws.send('{"event": "ping", "data": {"pad": "' + "x" * 200_000 + '"}}')
        with pytest.raises(websockets.ConnectionClosed) as closed:
            for _ in range(10):
                await asyncio.wait_for(ws.recv(), timeout=10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009  # message too big
