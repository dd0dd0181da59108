"""The daily outpatient report (issue 14, item 3), from a known set of visits.

The suite's other tests register visits today too, so the report is read before and after this
test's visits and the differences are checked.
"""

from __future__ import annotations

import uuid
from typing import Any

from kliniki.events import CloudEvent
from tests.support.journey import Journey
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually


async def report(http, stack: Stack, user: str = "admin", **params: str) -> dict[str, Any]:
    response = await http.get(
        f"{stack.url('registration')}/reports/daily", params=params, headers=auth(user)
    )
    assert response.status_code == 200, response.text
    return response.json()


def count(section: dict[str, int], key: str) -> int:
    return section.get(key, 0)


def diagnosis_count(found: dict[str, Any], code: str) -> int:
    return sum(d["visits"] for d in found["topDiagnoses"] if d["code"] == code)


def payments(found: dict[str, Any], method: str) -> tuple[int, float]:
    for p in found["payments"]:
        if p["paymentType"] == method:
            return p["payments"], float(p["total"])
    return 0, 0.0


async def test_the_day_in_numbers_as_json_and_csv(stack: Stack, http) -> None:
    before = await report(http, stack)
    urls = {s: stack.url(s) for s in stack.processes}
    child, red, untriaged = Journey(http, urls), Journey(http, urls), Journey(http, urls)
    await child.register(age=3)
    await red.register(age=35)
    await untriaged.register(age=40)
    await child.triage("GREEN")
    await red.triage("RED")
    for journey in (child, red):
        await journey.complete_assignment("triage", "nurse_sarah")
    await red.assignment("clinical", "dr_smith")
    await red.call(
        "POST",
        "clinical",
        f"/patients/{red.patient_id}/diagnoses",
        "dr_smith",
        201,
        json={"diagnosisCode": "I21.9"},
    )
    method = f"TEST_{uuid.uuid4().hex[:6].upper()}"
    paid = CloudEvent(
        source="/services/billing",
        type="payment.completed.v1",
        subject=child.patient_id,
        visitid=child.visit_id,
        actorid="tom_cashier",
        data={
            "paymentId": f"payment_{uuid.uuid4().hex[:20]}",
            "visitId": child.visit_id,
            "patientId": child.patient_id,
            "amount": 500.0,
            "paymentType": method,
            "processedBy": "tom_cashier",
            "paidTotal": 500.0,
            "balance": 0.0,
        },
    )
    await stack.publish_raw("billing", "payment.completed", paid.to_json_bytes())

    def caught_up(now: dict[str, Any]) -> bool:
        return (
            diagnosis_count(now, "I21.9") > diagnosis_count(before, "I21.9")
            and payments(now, method)[0] == 1
            and count(now["byTriageColour"], "RED") > count(before["byTriageColour"], "RED")
            and count(now["byTriageColour"], "GREEN") > count(before["byTriageColour"], "GREEN")
        )

    after = await eventually(lambda: report(http, stack), caught_up, timeout=20)
    assert after["visitsRegistered"] - before["visitsRegistered"] == 3
    assert count(after["byAgeBand"], "under5") - count(before["byAgeBand"], "under5") == 1
    assert count(after["byAgeBand"], "5andOver") - count(before["byAgeBand"], "5andOver") == 2
    for colour in ("RED", "GREEN", "UNTRIAGED"):
        grew = count(after["byTriageColour"], colour) - count(before["byTriageColour"], colour)
        assert grew == 1, colour
    assert diagnosis_count(after, "I21.9") - diagnosis_count(before, "I21.9") == 1
    assert payments(after, method) == (1, 500.0)
    [triage] = [w for w in after["waiting"] if w["stage"] == "TRIAGE"]
    assert triage["patients"] >= 2
    assert 0 <= triage["medianMinutes"] <= triage["p90Minutes"]

    csv = await http.get(
        f"{stack.url('registration')}/reports/daily",
        headers={**auth("sister_grace"), "Accept": "text/csv"},
    )
    assert csv.status_code == 200
    assert csv.headers["content-type"].startswith("text/csv")
    lines = csv.text.splitlines()
    assert lines[0] == "section,item,value"
    assert f"visits,registered,{after['visitsRegistered']}" in lines
    assert f"payments,{method} total,500.00" in lines


async def test_a_quiet_day_bad_dates_and_who_may_read_it(stack: Stack, http) -> None:
    quiet = await report(http, stack, date="2001-01-01")
    assert (quiet["visitsRegistered"], quiet["waiting"], quiet["payments"]) == (0, [], [])
    bad = await http.get(
        f"{stack.url('registration')}/reports/daily",
        params={"date": "yesterday"},
        headers=auth("admin"),
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "date"
    for user in ("tom_cashier", "nurse_sarah", "alice_receptionist"):
        refused = await http.get(f"{stack.url('registration')}/reports/daily", headers=auth(user))
        assert refused.status_code == 403, user
