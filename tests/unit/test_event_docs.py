"""The contracts in docs/ match the code, and the official tools accept them."""

from __future__ import annotations

import importlib
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from kliniki.settings import SERVICE_PORTS
from tools.asyncapi import DOCS, parse_events, render, render_events_md

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


def test_the_event_tables_are_generated_from_the_contracts() -> None:
    text = (DOCS / "events.md").read_text()
    assert render_events_md(text) == text, (
        "docs/events.md is out of date: run .venv/bin/python tools/asyncapi.py"
    )


def _published_keys() -> set[tuple[str, str]]:
    """(publisher, routing key) of every event the services and the kernel publish with a
    constant key (a name or ``events.NAME`` the module resolves)."""
    import ast

    found: set[tuple[str, str]] = set()
    sources = [*REPO.glob("services/*/*/*.py"), *REPO.glob("shared/kliniki/**/*.py")]
    for path in sources:
        parts = path.relative_to(REPO).parts
        if parts[0] == "services" and (parts[2] == "migrations" or parts[1] != parts[2]):
            continue
        module_name = ".".join(parts[2:] if parts[0] == "services" else parts[1:])[:-3]
        tree = ast.parse(path.read_text())
        calls = [
            node
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
        ]
        # uow.publish(KEY, ...), and an edited record's save(..., event=KEY) (kliniki.records)
        publishes = [c.args[0] for c in calls if c.func.attr == "publish" and c.args] + [
            k.value for c in calls if c.func.attr == "save" for k in c.keywords if k.arg == "event"
        ]
        if not publishes:
            continue
        module = importlib.import_module(module_name)
        for arg in publishes:
            if isinstance(arg, ast.Name):
                key = getattr(module, arg.id, None)
            elif isinstance(arg, ast.Attribute) and isinstance(arg.value, ast.Name):
                key = getattr(getattr(module, arg.value.id, None), arg.attr, None)
            else:
                continue  # a key chosen at run time: its candidates are contracts already
            if isinstance(key, str):
                service = parts[1] if parts[0] == "services" else "worklist"
                found.add((service, key))
    return found


def test_every_published_and_consumed_event_type_has_exactly_one_model() -> None:
    from kliniki.contracts import all_contracts
    from kliniki.contracts.worklist import DEPARTMENTS

    models: dict[tuple[str, str], list[type]] = {}
    for contract in all_contracts():
        models.setdefault((contract.publisher, contract.routing_key), []).append(contract.model)
    assert {key: m for key, m in models.items() if len(m) != 1} == {}

    consumed = {
        (subscription.service, subscription.routing_key)
        for service in SERVICE_PORTS
        for spec in importlib.import_module(f"{service}.main").create_app().state.consumer_specs
        for subscription in spec.subscriptions
    }
    published = {
        (department, key)
        for service, key in _published_keys()
        for department in (DEPARTMENTS if service == "worklist" else (service,))
    }
    assert len(published) > 20  # the scan found the publishers
    assert sorted((consumed | published) - set(models)) == [], "event types without a model"
