"""Presence and typing with real sockets against real notifier processes (scenario steps 2, 3).

"Sarah is viewing John Doe's record", "Dr. Smith is typing in diagnosis": each sees the other,
a closed tab or a silent network leaves no ghost, typing ends by itself, and all of it crosses
between replicas through RabbitMQ.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from services.notifier.tests.live_support import (
    EXPIRY_WAIT,
    LiveSocket,
    patient_id,
    replica,
    user_ids,
)
from tests.support.stack import ServiceProcess, Stack, auth
from tests.support.waiting import eventually


@pytest.fixture(scope="module")
def replica_a(stack: Stack) -> Iterator[ServiceProcess]:
    with replica(stack, "notifier-a") as proc:
        yield proc


@pytest.fixture(scope="module")
def replica_b(stack: Stack) -> Iterator[ServiceProcess]:
    with replica(stack, "notifier-b") as proc:
        yield proc


async def presence(http: httpx.AsyncClient, proc: ServiceProcess, patient: str) -> list[str]:
    r = await http.get(
        f"{proc.url}/presence",
        params={"entityType": "patient", "entityId": patient},
        headers=auth("alice_receptionist"),
    )
    assert r.status_code == 200, r.text
    return user_ids(r.json()["members"])


async def test_sarah_and_dr_smith_see_each_other_and_a_dropped_socket_leaves(
    stack: Stack, replica_a: ServiceProcess, http: httpx.AsyncClient
) -> None:
    john = patient_id()
    async with (
        LiveSocket(stack.ws_url("nurse_sarah", replica_a), "nurse_sarah") as sarah,
        LiveSocket(stack.ws_url("dr_smith", replica_a), "dr_smith") as smith,
    ):
        state = await sarah.open_entity("patient", john)
        assert user_ids(state["members"]) == ["nurse_sarah"]
        assert state["members"][0]["name"] == "Sarah Achieng"
        assert state["members"][0]["mode"] == "viewing"
        assert state["members"][0]["since"]

        # Dr. Smith opens him: he is told Sarah is there, Sarah is told he came.
        state = await smith.open_entity("patient", john, mode="editing")
        assert user_ids(state["members"]) == ["nurse_sarah", "dr_smith"]
        joined = await sarah.wait_join(john, "dr_smith")
        assert joined["entityType"] == "patient"
        assert joined["joins"][0]["name"] == "Dr. Smith"
        assert joined["joins"][0]["mode"] == "editing"
        assert joined["leaves"] == []
        # A page that is not connected asks over HTTP.
        assert sorted(await presence(http, replica_a, john)) == ["dr_smith", "nurse_sarah"]

        # His laptop lid closes: no entity_edit_end, no close frame.
        smith.drop_without_goodbye()
        left = await sarah.wait_leave(john, "dr_smith")
        assert user_ids(left["leaves"]) == ["dr_smith"]
        assert await presence(http, replica_a, john) == ["nurse_sarah"]


async def test_two_tabs_are_one_presence(stack: Stack, replica_a: ServiceProcess) -> None:
    john = patient_id()
    async with LiveSocket(stack.ws_url("dr_smith", replica_a), "dr_smith") as smith:
        await smith.open_entity("patient", john)
        async with LiveSocket(stack.ws_url("nurse_sarah", replica_a), "nurse_sarah") as tab1:
            await tab1.open_entity("patient", john)
            await smith.wait_join(john, "nurse_sarah")
            async with LiveSocket(stack.ws_url("nurse_sarah", replica_a), "nurse_sarah") as tab2:
                state = await tab2.open_entity("patient", john)
                assert sorted(user_ids(state["members"])) == ["dr_smith", "nurse_sarah"]
            # One tab closed: Sarah is still there. Her other tab switching to editing shows.
            await tab1.open_entity("patient", john, mode="editing")
            changed = await smith.wait_for(
                "presence_diff",
                lambda d: d["entityId"] == john and [m["mode"] for m in d["joins"]] == ["editing"],
            )
            assert user_ids(changed["data"]["joins"]) == ["nurse_sarah"]
        await smith.wait_leave(john, "nurse_sarah")
        await smith.round_trip()
        sarah_diffs = [d for d in smith.diffs(john) if "nurse_sarah" in user_ids(d["joins"])]
        # Joined once, changed mode once: the second tab made no second presence.
        assert len(sarah_diffs) == 2
        assert len([d for d in smith.diffs(john) if d["leaves"]]) == 1


async def test_a_silent_socket_leaves_within_the_expiry_and_comes_back_when_heard(
    stack: Stack, replica_a: ServiceProcess
) -> None:
    """A dropped Wi-Fi sends no FIN: the server only notices that the pings stopped."""
    john = patient_id()
    async with (
        LiveSocket(stack.ws_url("nurse_sarah", replica_a), "nurse_sarah") as sarah,
        LiveSocket(stack.ws_url("dr_smith", replica_a), "dr_smith") as smith,
    ):
        await sarah.open_entity("patient", john)
        await smith.open_entity("patient", john)
        await sarah.wait_join(john, "dr_smith")
        smith.pinging = False
        await sarah.wait_leave(john, "dr_smith", timeout=EXPIRY_WAIT)
        smith.pinging = True  # the network is back: he is there again without reopening
        await sarah.wait_for(
            "presence_diff",
            lambda d: (
                d["entityId"] == john
                and "dr_smith" in user_ids(d["joins"])
                and len(sarah.diffs(john)) >= 3
            ),
        )


async def test_typing_reaches_the_viewers_with_the_field_and_expires_by_itself(
    stack: Stack, replica_a: ServiceProcess
) -> None:
    john = patient_id()
    async with (
        LiveSocket(stack.ws_url("nurse_sarah", replica_a), "nurse_sarah") as sarah,
        LiveSocket(stack.ws_url("dr_smith", replica_a), "dr_smith") as smith,
        LiveSocket(stack.ws_url("mike_lab_tech", replica_a), "mike_lab_tech") as elsewhere,
    ):
        await sarah.open_entity("patient", john)
        await smith.open_entity("patient", john)
        await elsewhere.open_entity("patient", patient_id())  # another patient

        await smith.send("typing_start", {"patientId": john, "field": "diagnosis"})
        typing = await sarah.wait_for("typing", lambda d: d["isTyping"])
        assert typing["data"] == {
            "patientId": john,
            "field": "diagnosis",
            "userId": "dr_smith",
            "name": "Dr. Smith",
            "isTyping": True,
        }
        # He never sends typing_stop: it ends by itself.
        stopped = await sarah.wait_for("typing", lambda d: not d["isTyping"], EXPIRY_WAIT)
        assert stopped["data"]["field"] == "diagnosis"
        assert stopped["data"]["userId"] == "dr_smith"

        # typing_stop ends it at once; Sarah typing in vital signs reaches Dr. Smith.
        await sarah.send("typing_start", {"patientId": john, "field": "vital_signs"})
        await smith.wait_for("typing", lambda d: d["isTyping"] and d["field"] == "vital_signs")
        await sarah.send("typing_stop", {"patientId": john, "field": "vital_signs"})
        await smith.wait_for("typing", lambda d: not d["isTyping"] and d["field"] == "vital_signs")

        await smith.round_trip()
        await sarah.round_trip()
        await elsewhere.round_trip()
        assert not smith.events("typing") or all(
            f["data"]["userId"] != "dr_smith" for f in smith.events("typing")
        ), "nobody is told about their own typing"
        assert elsewhere.events("typing") == [], "typing goes only to that patient's viewers"
        assert len(sarah.events("typing")) == 2


async def test_a_newcomer_is_told_who_is_typing(stack: Stack, replica_a: ServiceProcess) -> None:
    john = patient_id()
    async with LiveSocket(stack.ws_url("dr_smith", replica_a), "dr_smith") as smith:
        await smith.open_entity("patient", john)
        await smith.send("typing_start", {"patientId": john, "field": "diagnosis"})
        await smith.round_trip()
        async with LiveSocket(stack.ws_url("nurse_sarah", replica_a), "nurse_sarah") as sarah:
            await sarah.open_entity("patient", john)
            frame = await sarah.wait_for("typing", lambda d: d["isTyping"])
            assert frame["data"]["userId"] == "dr_smith"


async def test_presence_and_typing_cross_between_replicas(
    stack: Stack, replica_a: ServiceProcess, replica_b: ServiceProcess, http: httpx.AsyncClient
) -> None:
    john = patient_id()
    async with (
        LiveSocket(stack.ws_url("nurse_sarah", replica_a), "nurse_sarah") as sarah,
        LiveSocket(stack.ws_url("dr_smith", replica_b), "dr_smith") as smith,
    ):
        await sarah.open_entity("patient", john)

        async def b_knows_sarah() -> list[str]:
            return await presence(http, replica_b, john)

        # B learns A's presence through RabbitMQ (GET /presence on B shows Sarah).
        await eventually(b_knows_sarah, lambda users: users == ["nurse_sarah"])
        state = await smith.open_entity("patient", john)
        assert user_ids(state["members"]) == ["nurse_sarah", "dr_smith"]
        await sarah.wait_join(john, "dr_smith")

        await smith.send("typing_start", {"patientId": john, "field": "diagnosis"})
        frame = await sarah.wait_for("typing", lambda d: d["isTyping"])
        assert frame["data"]["name"] == "Dr. Smith"
        await sarah.wait_for("typing", lambda d: not d["isTyping"], EXPIRY_WAIT)

        smith.drop_without_goodbye()
        await sarah.wait_leave(john, "dr_smith")
        await eventually(b_knows_sarah, lambda users: users == ["nurse_sarah"])
