"""The contracts in docs/ match the code, and the official tools accept them."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from kliniki.settings import SERVICE_PORTS
from tools.asyncapi import DOCS, parse_events, render

REPO = Path(__file__).resolve().parents[2]


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


def test_the_official_asyncapi_parser_accepts_the_document() -> None:
    checker = REPO / "tools" / "asyncapi-check"
    result = subprocess.run(
        ["node", "validate.mjs", str(DOCS / "asyncapi.yaml")],
        cwd=checker,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 error(s)" in result.stdout


@pytest.mark.parametrize("service", list(SERVICE_PORTS))
def test_each_services_openapi_document_is_valid(service: str) -> None:
    app = importlib.import_module(f"{service}.main").create_app()
    validate(app.openapi())
