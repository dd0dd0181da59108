"""Who may close an assignment (issue 10, item 4): the assignee, the in-charge or an admin.

A colleague with the same role cannot complete or cancel someone else's patient; a transfer
hands it over explicitly.
"""

from __future__ import annotations

from tests.support.journey import Journey
from tests.support.stack import Stack, auth


async def test_a_colleague_cannot_close_sarahs_assignment_but_the_in_charge_can(
    stack: Stack, http
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    assignment = await journey.assignment("triage", "nurse_sarah")
    assert assignment["assignedToUserId"] == "nurse_sarah"
    url = f"{stack.url('triage')}/assignments/{assignment['id']}"

    for status in ("COMPLETED", "CANCELLED"):
        refused = await http.patch(
            url,
            json={"status": status, "version": assignment["version"]},
            headers=auth("nurse_joy"),
        )
        assert refused.status_code == 403, refused.text
        assert "nurse_sarah's" in refused.json()["detail"]
    unchanged = (
        await http.get(
            f"{stack.url('triage')}/assignments?visitId={journey.visit_id}",
            headers=auth("nurse_sarah"),
        )
    ).json()
    assert [(a["id"], a["status"], a["version"]) for a in unchanged] == [
        (assignment["id"], "ACTIVE", assignment["version"])
    ]

    # Sarah hands it to Joy explicitly; now Joy may close it, and Sarah may not.
    moved = await http.patch(
        url,
        json={"assignedToUserId": "nurse_joy", "version": assignment["version"]},
        headers=auth("nurse_sarah"),
    )
    assert moved.status_code == 200, moved.text
    back = await http.patch(
        url,
        json={"status": "CANCELLED", "version": moved.json()["version"]},
        headers=auth("nurse_sarah"),
    )
    assert back.status_code == 403

    # The nurse in charge closes it for her.
    closed = await http.patch(
        url,
        json={"status": "CANCELLED", "version": moved.json()["version"]},
        headers=auth("sister_grace"),
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "CANCELLED"
