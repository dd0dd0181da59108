"""What an operator alerts on, scraped from /metrics in Prometheus text (issue 15, item 2)."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.scenario import another_patient
from tests.support.live import StaffSocket
from tests.support.stack import Stack, auth


async def scrape(http: httpx.AsyncClient, stack: Stack, service: str) -> dict[str, list]:
    response = await http.get(f"{stack.url(service)}/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return _grouped(response.text)


def _grouped(text: str) -> dict[str, list]:
    grouped: dict[str, list] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            grouped.setdefault(sample.name, []).append(sample)
    return grouped


def value(samples: dict[str, list], name: str, **labels: str) -> float:
    return sum(
        s.value
        for s in samples.get(name, [])
        if all(s.labels.get(k) == v for k, v in labels.items())
    )


async def test_every_service_reports_requests_consumers_outbox_and_sockets(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    async with StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah:
        created = await http.post(
            f"{stack.url('registration')}/patients",
            json=another_patient(),
            headers=auth("alice_receptionist"),
        )
        assert created.status_code == 201
        await http.get(f"{stack.url('registration')}/patients/nobody", headers=auth("admin"))
        await sarah.wait_for("new_assignment", lambda d: d["patientId"] == created.json()["id"])
        notifier = await scrape(http, stack, "notifier")

    registration = await scrape(http, stack, "registration")
    triage = await scrape(http, stack, "triage")
    # Requests: rate, errors and duration per route (the status label tells errors apart).
    posted = "kliniki_http_request_duration_seconds_count"
    assert value(registration, posted, route="/patients", method="POST", status="201") >= 1
    assert value(registration, posted, route="/patients/{patient_id}", status="404") >= 1
    # The outbox: rows waiting and the oldest one's age.
    assert "kliniki_outbox_pending" in registration
    assert "kliniki_outbox_oldest_age_seconds" in registration
    assert value(registration, "kliniki_events_published_total") >= 1
    # Consumers: handled, retried or dead-lettered, handling time, lag.
    inbox = next(q for q in {s.labels["queue"] for s in triage["kliniki_events_consumed_total"]})
    assert value(triage, "kliniki_events_consumed_total", outcome="applied") >= 1
    assert value(triage, "kliniki_consumer_handling_seconds_count", queue=inbox) >= 1
    assert value(triage, "kliniki_consumer_lag_seconds", queue=inbox) >= 0
    # The notifier: sockets, frames, queue depth, slow clients, write-to-frame latency.
    assert value(notifier, "kliniki_ws_connections") >= 1
    assert value(notifier, "kliniki_ws_frames_sent_total", event="new_assignment") >= 1
    assert "kliniki_ws_send_queue_bytes" in notifier
    assert "kliniki_ws_slow_consumers_closed_total" in notifier
    assert value(notifier, "kliniki_notification_delivery_seconds_count") >= 1
