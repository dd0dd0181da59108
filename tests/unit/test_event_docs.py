"""The event contract in docs/ matches what the services actually listen to."""

from __future__ import annotations

import importlib

import pytest

from kliniki.settings import SERVICE_PORTS
from tools.asyncapi import DOCS, parse_events, render


def test_asyncapi_is_generated_from_the_current_event_tables() -> None:
    assert (DOCS / "asyncapi.yaml").read_text() == render(), (
        "docs/asyncapi.yaml is out of date: run .venv/bin/python tools/asyncapi.py"
    )


@pytest.mark.parametrize("service", list(SERVICE_PORTS))
def test_every_event_a_service_consumes_is_documented(service: str) -> None:
    documented = parse_events((DOCS / "events.md").read_text())
    app = importlib.import_module(f"{service}.main").create_app()
    for spec in app.state.consumer_specs:
        for subscription in spec.subscriptions:
            keys = documented.get(subscription.service, {})
            assert subscription.routing_key in keys, (
                f"{service} consumes {subscription.service}.events "
                f"{subscription.routing_key}, which docs/events.md does not describe"
            )
