"""The presence board and the policy on their own, with a clock the test turns (no servers)."""

from __future__ import annotations

from typing import Any

import pytest

from kliniki.access import live_frame_for, may_see_presence, may_see_typing, typing_field_group
from kliniki.auth import Principal
from notifier.policy_table import README, readme_block, tables
from notifier.presence import PresenceBoard


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class FakeSocket:
    def __init__(self, user: str, name: str, roles: set[str]) -> None:
        self.principal = Principal(user, name, frozenset(roles))
        self.frames: list[tuple[str, dict[str, Any]]] = []

    def deliver(self, event: str, data: dict[str, Any]) -> bool:
        visible = live_frame_for(event, data, self.principal.roles)
        if visible is not None:
            self.frames.append((event, visible))
        return visible is not None

    def events(self, name: str) -> list[dict[str, Any]]:
        return [d for e, d in self.frames if e == name]


def board(replica: str, clock: Clock, gossip: list[dict[str, Any]] | None = None) -> PresenceBoard:
    out = gossip if gossip is not None else []
    return PresenceBoard(
        replica,
        typing_expiry=5,
        replica_expiry=6,
        client_timeout=10,
        gossip=lambda m: out.append({"replica": replica, **m}),
        clock=clock,
    )


def sarah() -> FakeSocket:
    return FakeSocket("nurse_sarah", "Sarah Achieng", {"triage_nurse"})


def smith() -> FakeSocket:
    return FakeSocket("dr_smith", "Dr. Smith", {"clinical_officer"})


def test_two_tabs_are_one_presence_that_leaves_with_the_last_tab() -> None:
    b = board("a", Clock())
    watcher, tab1, tab2 = smith(), sarah(), sarah()
    b.join(watcher, "patient", "p1")
    b.join(tab1, "patient", "p1")
    b.join(tab2, "patient", "p1")
    assert [d["joins"][0]["userId"] for d in watcher.events("presence_diff")] == ["nurse_sarah"]
    b.drop(tab1)
    assert len(watcher.events("presence_diff")) == 1
    b.drop(tab2)
    assert watcher.events("presence_diff")[-1]["leaves"][0]["userId"] == "nurse_sarah"
    assert [m["userId"] for m in b.members("patient", "p1")] == ["dr_smith"]


def test_typing_expires_and_silent_sockets_are_given_up_then_restored() -> None:
    clock = Clock()
    b = board("a", clock)
    viewer, typist = sarah(), smith()
    b.join(viewer, "patient", "p1")
    b.join(typist, "patient", "p1")
    b.typing(typist, "p1", "diagnosis", True)
    clock.now += 4
    b.heard(viewer)
    b.heard(typist)
    b.typing(typist, "p1", "diagnosis", True)  # a keystroke pushes the expiry on
    clock.now += 4
    b.sweep()
    assert [d["isTyping"] for d in viewer.events("typing")] == [True]
    clock.now += 2
    b.sweep()
    assert [d["isTyping"] for d in viewer.events("typing")] == [True, False]
    clock.now += 11  # the typist has said nothing for over 10 s (the viewer neither)
    b.heard(viewer)
    b.sweep()
    assert viewer.events("presence_diff")[-1]["leaves"][0]["userId"] == "dr_smith"
    b.heard(typist)
    assert viewer.events("presence_diff")[-1]["joins"][0]["userId"] == "dr_smith"


def test_replicas_share_presence_and_forget_a_silent_one() -> None:
    clock = Clock()
    wire: list[dict[str, Any]] = []
    a, b = board("a", clock, wire), board("b", clock, wire)
    on_a, on_b = sarah(), smith()
    a.join(on_a, "patient", "p1")
    b.join(on_b, "patient", "p1")
    b.typing(on_b, "p1", "diagnosis", True)
    for message in wire:
        a.on_gossip(message)
        b.on_gossip(message)
    assert on_a.events("presence_diff")[0]["joins"][0]["userId"] == "dr_smith"
    assert on_a.events("typing")[0]["field"] == "diagnosis"
    assert [m["userId"] for m in b.members("patient", "p1")] == ["nurse_sarah", "dr_smith"]
    # A snapshot replaces what a replica said before; silence makes it leave.
    a.on_gossip({"replica": "b", **b.snapshot()})
    clock.now += 7
    a.sweep()
    assert on_a.events("presence_diff")[-1]["leaves"][0]["userId"] == "dr_smith"
    assert on_a.events("typing")[-1]["isTyping"] is False
    assert a.remote_replicas == []


@pytest.mark.parametrize(
    ("roles", "entity", "allowed"),
    [
        ({"cashier"}, "patient", True),
        ({"cashier"}, "encounter", False),
        ({"receptionist"}, "lab_request", False),
        ({"lab_technician"}, "lab_request", True),
        ({"cashier"}, "invoice", True),
        ({"clinical_officer"}, "invoice", False),
        ({"visitor"}, "patient", False),
        ({"admin"}, "no_such_entity", False),
    ],
)
def test_presence_goes_to_roles_that_may_open_the_entity(
    roles: set[str], entity: str, allowed: bool
) -> None:
    assert may_see_presence(frozenset(roles), entity) is allowed


def test_typing_fields_by_group() -> None:
    assert typing_field_group("phone_number").value == "demographic"
    assert typing_field_group("phoneNumber").value == "demographic"
    assert typing_field_group("paymentType").value == "billing"
    assert typing_field_group("diagnosis").value == "clinical"
    assert typing_field_group("something_new").value == "clinical"
    cashier, nurse = frozenset({"cashier"}), frozenset({"triage_nurse"})
    assert not may_see_typing(cashier, "diagnosis")
    assert may_see_typing(cashier, "phoneNumber")
    assert may_see_typing(nurse, "vital_signs")
    assert not may_see_typing(nurse, "payment")


def test_the_readme_shows_the_policy_in_the_code() -> None:
    assert readme_block(README.read_text()) == tables().strip("\n"), (
        "services/notifier/README.md is out of date: run "
        ".venv/bin/python -m notifier.policy_table --write (in services/notifier)"
    )
