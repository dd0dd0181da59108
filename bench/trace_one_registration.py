"""Where one registration's time goes: a timeline of every span, one registration at a time.

Starts registration, triage and the notifier with OpenTelemetry exporting to an OTLP receiver
in this process (every HTTP request, SQL statement, relay publish, consumer handling and live
delivery is a span), registers patients one after another while Sarah is connected, leaving a
pause between them so that nothing overlaps, and puts every span that started between a
``POST /patients`` and Sarah's frame on one timeline, in milliseconds from the POST's return.
Spans without a parent (the relays' own statements) are included: they are placed by time.

Prints the median timeline of the milestones (the start and end of each named span) over all
registrations, then the full timeline of the registration nearest the median.

    .venv/bin/python bench/trace_one_registration.py   # REGISTRATIONS=40 by default

Tracing adds its own CPU to each span, so the total is above ``bench_registration_latency``'s;
the gaps between spans (waits, timers) are what to read.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.support import (  # noqa: E402
    PIPELINE,
    Registration,
    register_one_at_a_time,
    start_pipeline,
)
from tests.support.stack import Stack, free_port, servers  # noqa: E402

REGISTRATIONS = int(os.environ.get("REGISTRATIONS", "40"))
WARM_UP = 5
PAUSE_SECONDS = 0.3


@dataclass(frozen=True)
class Span:
    service: str
    name: str
    start_ns: int
    end_ns: int
    statement: str = ""  # a SQL statement's first words


SPANS: list[Span] = []
SPANS_LOCK = threading.Lock()


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        spans = []
        for resource in request.resource_spans:
            names = [a.value.string_value for a in resource.resource.attributes]
            keys = [a.key for a in resource.resource.attributes]
            service = names[keys.index("service.name")] if "service.name" in keys else "?"
            for scope in resource.scope_spans:
                for span in scope.spans:
                    statement = next(
                        (a.value.string_value for a in span.attributes if a.key == "db.statement"),
                        "",
                    )
                    spans.append(
                        Span(
                            service,
                            span.name,
                            span.start_time_unix_nano,
                            span.end_time_unix_nano,
                            " ".join(statement.split())[:90],
                        )
                    )
        with SPANS_LOCK:
            SPANS.extend(spans)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def timeline(registration: Registration) -> list[tuple[float, float, Span]]:
    """(start ms, end ms, span) from the POST's return, for spans in the registration's window."""
    zero = registration.returned_ns
    return sorted(
        ((s.start_ns - zero) / 1e6, (s.end_ns - zero) / 1e6, s)
        for s in SPANS
        if registration.posted_ns <= s.start_ns <= registration.frame_ns
    )


def main() -> None:
    receiver = ThreadingHTTPServer(("127.0.0.1", free_port()), _Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    env = {
        "KLINIKI_LOG_LEVEL": "WARNING",
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"http://127.0.0.1:{receiver.server_address[1]}",
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }
    with servers() as (pg_url, amqp_url):
        stack = Stack(pg_url, amqp_url)
        try:
            start_pipeline(stack, **env)
            registrations = asyncio.run(
                register_one_at_a_time(stack, REGISTRATIONS, WARM_UP, PAUSE_SECONDS)
            )
            time.sleep(1.0)  # the last spans' export
        finally:
            stack.stop_all()
            stack.cleanup()
            receiver.shutdown()

    totals = [(r.frame_ns - r.returned_ns) / 1e6 for r in registrations]
    print(f"{len(registrations)} registrations, POST returned -> Sarah's frame (traced): "
          f"p50 {statistics.median(totals):.1f} ms")  # fmt: skip
    # Milestones: each (service, span name, occurrence) that is not a SQL statement.
    starts: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    ends: dict[tuple[str, str, int], list[float]] = defaultdict(list)
    for registration in registrations:
        seen: dict[tuple[str, str], int] = defaultdict(int)
        for start, end, span in timeline(registration):
            key = (span.service, span.name)
            starts[(*key, seen[key])].append(start)
            ends[(*key, seen[key])].append(end)
            seen[key] += 1
    counts: dict[str, list[int]] = defaultdict(list)
    for registration in registrations:
        statements = [s for start, _, s in timeline(registration) if s.statement and start > 0]
        for service in PIPELINE:
            counts[service].append(sum(1 for span in statements if span.service == service))
    print(
        "SQL statements before Sarah's frame (median per registration, after the POST's own): "
        + ", ".join(f"{service} {statistics.median(n):g}" for service, n in counts.items())
    )
    print("\nmedian milestones (ms from POST returned; spans seen in at least half the runs):")
    rows = [
        (statistics.median(starts[k]), statistics.median(ends[k]), k)
        for k in starts
        if len(starts[k]) >= len(registrations) / 2
    ]
    for start, end, (service, name, n) in sorted(rows):
        label = f"{name} #{n + 1}" if n else name
        print(f"  {start:8.2f} .. {end:8.2f}  {service:12} {label}")
    median = statistics.median(totals)
    typical = min(registrations, key=lambda r: abs((r.frame_ns - r.returned_ns) / 1e6 - median))
    total = (typical.frame_ns - typical.returned_ns) / 1e6
    print(f"\nfull timeline of one registration ({total:.1f} ms):")
    for start, end, span in timeline(typical):
        print(f"  {start:8.2f} .. {end:8.2f}  {span.service:12} {span.statement or span.name}")
    print(f"  {total:8.2f}               client       Sarah's frame")


if __name__ == "__main__":
    main()
