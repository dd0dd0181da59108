"""A long day's worklist (issue 13, item 4): the list comes a page at a time, and the header's
counts come from one query over the whole list, so they never stop at the first page."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.journey import Journey
from tests.support.stack import Stack, auth


async def whole_worklist(http: httpx.AsyncClient, url: str, user: str) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    params: dict[str, Any] = {"limit": 2}
    while True:
        page = await http.get(url, params=params, headers=auth(user))
        assert page.status_code == 200, page.text
        assert len(page.json()) <= 2
        rows += page.json()
        if "x-next-cursor" not in page.headers:
            return rows
        params = {"limit": 2, "cursor": page.headers["x-next-cursor"]}


async def test_the_worklist_header_counts_the_whole_list_not_the_page(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    triage = stack.url("triage")
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    for _ in range(3):
        await journey.register()
        await journey.assignment("triage", "nurse_sarah")

    summary = await http.get(f"{triage}/assignments/summary", headers=auth("nurse_sarah"))
    assert summary.status_code == 200, summary.text
    counts = summary.json()
    rows = await whole_worklist(http, f"{triage}/assignments", "nurse_sarah")
    assert len({r["id"] for r in rows}) == len(rows)  # no page repeats a row
    assert counts["active"] == len(rows) >= 3
    assert counts["urgent"] == sum(r["priority"] == "URGENT" for r in rows)
    assert counts["unassigned"] == sum(r["assignedToUserId"] is None for r in rows)
    assert counts["mine"] == sum(r["assignedToUserId"] == "nurse_sarah" for r in rows) >= 3
    assert counts["pastTarget"] == sum(r["escalationLevel"] > 0 for r in rows)

    # The same counts for a colleague, except whose patients are "mine".
    joys = (await http.get(f"{triage}/assignments/summary", headers=auth("nurse_joy"))).json()
    assert joys["active"] == counts["active"]
    assert joys["mine"] == sum(r["assignedToUserId"] == "nurse_joy" for r in rows)

    # The cashier has no triage worklist to count.
    refused = await http.get(f"{triage}/assignments/summary", headers=auth("tom_cashier"))
    assert refused.status_code == 403, refused.text
