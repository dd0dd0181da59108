"""One trace per change, from the HTTP request to the WebSocket frame (issue 15, item 1).

Registration, triage and the notifier are restarted with the standard OTEL_* variables pointing
at an OTLP/HTTP receiver in this test (opentelemetry-proto decodes what they send); a
``POST /patients`` sent with a ``traceparent`` must come back as spans of all three services in
that one trace.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.scenario import another_patient
from tests.support.live import StaffSocket
from tests.support.stack import Stack, auth, free_port
from tests.support.waiting import eventually

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
TRACEPARENT = f"00-{TRACE_ID}-00f067aa0ba902b7-01"


@contextlib.contextmanager
def otlp_receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OTLP/HTTP endpoint collecting every span it is sent."""
    spans: list[dict[str, Any]] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            request = ExportTraceServiceRequest()
            request.ParseFromString(body)
            for resource_spans in request.resource_spans:
                service = next(
                    a.value.string_value
                    for a in resource_spans.resource.attributes
                    if a.key == "service.name"
                )
                for scope in resource_spans.scope_spans:
                    for span in scope.spans:
                        spans.append(
                            {
                                "service": service,
                                "name": span.name,
                                "trace_id": span.trace_id.hex(),
                                "ms": (span.end_time_unix_nano - span.start_time_unix_nano) / 1e6,
                            }
                        )
            reply = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", spans
    finally:
        server.shutdown()


@contextlib.asynccontextmanager
async def traced(stack: Stack, services: list[str], endpoint: str) -> AsyncIterator[None]:
    """Run ``services`` with tracing on for the test, then put the untraced ones back."""
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }

    async def replace(service: str, **extra: str) -> None:
        stack.processes.pop(service).stop()
        await asyncio.to_thread(stack.wait_ready, stack.start(service, **extra))

    for service in services:
        await replace(service, **env)
    try:
        yield
    finally:
        for service in services:
            await replace(service)


async def test_one_registration_is_one_trace_across_services(
    stack: Stack, http: httpx.AsyncClient
) -> None:
    services = ["registration", "triage", "notifier"]
    with otlp_receiver() as (endpoint, spans):
        async with traced(stack, services, endpoint):
            async with StaffSocket(stack.ws_url("nurse_sarah"), "nurse_sarah") as sarah:
                response = await http.post(
                    f"{stack.url('registration')}/patients",
                    json=another_patient(),
                    headers={**auth("alice_receptionist"), "traceparent": TRACEPARENT},
                )
                assert response.status_code == 201, response.text
                patient_id = response.json()["id"]
                await sarah.wait_for("new_assignment", lambda d: d["patientId"] == patient_id)

            def of_trace() -> list[dict[str, Any]]:
                return [s for s in spans if s["trace_id"] == TRACE_ID]

            async def collected() -> list[dict[str, Any]]:
                return of_trace()

            def complete(found: list[dict[str, Any]]) -> bool:
                names = {(s["service"], s["name"]) for s in found}
                return {
                    ("registration", "POST /patients"),
                    ("registration", "patient.registered publish"),
                    ("triage", "patient.registered process"),
                    ("triage", "assignment.created publish"),
                    ("notifier", "assignment.created process"),
                    ("notifier", "new_assignment deliver"),
                } <= names

            found = await eventually(collected, complete, timeout=20)
    names = {s["name"] for s in found if s["service"] == "registration"}
    # The database is in the trace too (SQLAlchemy's spans: one per statement).
    assert any(n.startswith(("INSERT", "SELECT", "UPDATE", "connect")) for n in names), names
