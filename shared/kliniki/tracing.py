"""OpenTelemetry traces, one per change: HTTP request -> database -> outbox -> consumers -> frame.

Configured only by the standard variables (``OTEL_EXPORTER_OTLP_ENDPOINT`` or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``, ``OTEL_TRACES_EXPORTER``, ``OTEL_SERVICE_NAME``,
``OTEL_TRACES_SAMPLER``; OTLP over HTTP/protobuf). With none set nothing is configured: the
API's no-op tracer costs next to nothing, and the W3C ``traceparent`` still rides in every
event's envelope as before.

Across the broker the trace continues through the envelope's ``traceparent``: the relay's
publish span, each consumer's handling span and the notifier's delivery span are children of
the span that made the change.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, MutableMapping
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.trace import Span, SpanKind

from kliniki.settings import TracingSettings

_configured = False


def configure(service_name: str) -> bool:
    """Set up the SDK once per process if the environment asks for it; True if it did."""
    global _configured
    settings = TracingSettings()
    if _configured or not settings.enabled:
        return _configured
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    name = settings.otel_service_name or service_name
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _configured = True
    return True


def instrument_app(app: Any) -> None:
    """Server spans for every route (the inbound ``traceparent`` is their parent)."""
    if _configured:
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

        FastAPIInstrumentor.instrument_app(app, excluded_urls="healthz,readyz,metrics")


def instrument_engine(engine: Any) -> None:
    """A span for every SQL statement."""
    if _configured:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # Its declared range stops below SQLAlchemy 2.1, which its engine events still serve.
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)


def current_traceparent(fallback: str | None = None) -> str | None:
    """The W3C traceparent of the span in progress (for an event's envelope)."""
    if not _configured:  # no spans: the one that came in goes on
        return fallback
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent") or fallback


@contextlib.contextmanager
def span(name: str, kind: SpanKind, parent: str | None, **attributes: Any) -> Iterator[Span]:
    """A span whose parent is the ``traceparent`` an event carried (nothing when off)."""
    if not _configured:
        yield trace.INVALID_SPAN
        return
    context = propagate.extract({"traceparent": parent}) if parent else None
    tracer = trace.get_tracer("kliniki")
    with tracer.start_as_current_span(name, context=context, kind=kind, attributes=attributes) as s:
        yield s


def log_ids(
    _logger: Any, _method: str, event: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the trace and span ids of the span in progress, if any."""
    context = trace.get_current_span().get_span_context()
    if context.is_valid:
        event["trace_id"] = format(context.trace_id, "032x")
        event["span_id"] = format(context.span_id, "016x")
    return event
