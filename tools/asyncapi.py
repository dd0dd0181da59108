"""docs/events.md's field tables and docs/asyncapi.yaml (AsyncAPI 3.0), generated from the
event contracts in shared/kliniki/contracts (one payload model per routing key).

    .venv/bin/python tools/asyncapi.py           # rewrite both
    .venv/bin/python tools/asyncapi.py --check   # exit 1 if either is out of date

The models are the one place an event's fields are written down; the tables in events.md sit
between ``<!-- events:<publisher> -->`` markers (the prose around them is written by hand), and
the AsyncAPI document has one channel per topic exchange, one message per routing key, the
CloudEvents envelope as the payload with the model's JSON schema as its data.
"""

from __future__ import annotations

import re
import sys
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from kliniki.contracts import Contract, all_contracts
from kliniki.contracts.worklist import CONTRACTS as WORKLIST_CONTRACTS
from kliniki.contracts.worklist import DEPARTMENTS

DOCS = Path(__file__).resolve().parents[1] / "docs"
_SECTION = re.compile(r"^## (\S+)\.events")
_WORKLIST_SECTION = "## Every department with a worklist"
_ROW = re.compile(r"^\| (`[^|]+`(?:[^|]*)) \| (.+) \|$")
_KEY = re.compile(r"`([a-z_]+\.[a-z_]+)`|`\.([a-z_]+)`")
_FIELD = re.compile(r"\b([a-z][A-Za-z]+)\b")
# The worklist's events are published by every department alike: one table for them all.
WORKLIST = "worklist"
WORKLIST_KEYS = {c.routing_key for c in WORKLIST_CONTRACTS}


def parse_events(markdown: str) -> dict[str, dict[str, list[str]]]:
    """exchange service -> routing key -> data field names, as docs/events.md shows them."""
    events: dict[str, dict[str, list[str]]] = {}
    service = None
    for line in markdown.splitlines():
        if match := _SECTION.match(line):
            service = match.group(1)
            events.setdefault(service, {})
            continue
        if line.startswith(_WORKLIST_SECTION):
            service = WORKLIST
            events.setdefault(service, {})
            continue
        if line.startswith("## "):
            service = None
        if service is None or not (row := _ROW.match(line)):
            continue
        keys_text, data_text = row.groups()
        keys, aggregate = [], None
        for full, suffix in _KEY.findall(keys_text):
            if full:
                aggregate = full.split(".")[0]
                keys.append(full)
            elif aggregate:
                keys.append(f"{aggregate}.{suffix}")
        fields = sorted(set(_FIELD.findall(re.sub(r"\(.*?\)|—.*", "", data_text))))
        for key in keys:
            events[service][key] = fields
    shared = events.pop(WORKLIST, {})
    for department in DEPARTMENTS:
        events.setdefault(department, {}).update(shared)
    return events


# -- docs/events.md's tables -------------------------------------------------------------------


def _model_of(annotation: Any) -> tuple[type[BaseModel] | None, bool]:
    """The model inside ``X``, ``X | None`` or ``list[X]``, and whether it is a list."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation, False
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        for arg in args:
            found = _model_of(arg)
            if found[0] is not None:
                return found
    if origin is list and args:
        inner, _ = _model_of(args[0])
        return inner, True
    return None, False


def fields_of(model: type[BaseModel]) -> str:
    """``patientId, results [{analyte, name, ...}], ...``: the data's fields, camelCase."""
    parts = []
    for name, field in model.model_fields.items():
        alias = field.alias or name
        inner, many = _model_of(field.annotation)
        if inner is None:
            parts.append(alias)
        else:
            nested = "{" + fields_of(inner) + "}"
            parts.append(f"{alias} [{nested}]" if many else f"{alias} {nested}")
    return ", ".join(parts)


def _publisher_of(contract: Contract[Any]) -> str:
    return WORKLIST if contract.routing_key in WORKLIST_KEYS else contract.publisher


def _rows(contracts: list[Contract[Any]]) -> Iterator[str]:
    """One row per model and summary; keys of one aggregate after the first as ``.suffix``."""
    groups: dict[tuple[type[BaseModel], str], list[str]] = {}
    for c in contracts:
        groups.setdefault((c.model, c.summary), [])
        if c.routing_key not in groups[(c.model, c.summary)]:
            groups[(c.model, c.summary)].append(c.routing_key)
    for (model, summary), keys in groups.items():
        aggregate = keys[0].split(".")[0]
        shown = [f"`{keys[0]}`"] + [
            f"`.{k.split('.', 1)[1]}`" if k.split(".")[0] == aggregate else f"`{k}`"
            for k in keys[1:]
        ]
        data = fields_of(model) + (f" — {summary}" if summary else "")
        yield f"| {', '.join(shown)} | {data} |"


def tables() -> dict[str, str]:
    """publisher (or ``worklist``) -> its markdown table."""
    by_publisher: dict[str, list[Contract[Any]]] = {}
    for contract in all_contracts():
        by_publisher.setdefault(_publisher_of(contract), []).append(contract)
    return {
        publisher: "\n".join(["| routing key | data |", "|---|---|", *_rows(contracts)])
        for publisher, contracts in by_publisher.items()
    }


def _markers(publisher: str) -> tuple[str, str]:
    return f"<!-- events:{publisher}:start -->", f"<!-- events:{publisher}:end -->"


def render_events_md(text: str) -> str:
    """``text`` (docs/events.md) with every table between its markers rewritten."""
    for publisher, table in tables().items():
        start, end = _markers(publisher)
        before, rest = text.split(start, 1)
        after = rest.split(end, 1)[1]
        text = f"{before}{start}\n{table}\n{end}{after}"
    return text


# -- docs/asyncapi.yaml ------------------------------------------------------------------------

ENVELOPE: dict[str, Any] = {
    "type": "object",
    "required": ["specversion", "id", "source", "type", "time", "data"],
    "properties": {
        "specversion": {"const": "1.0"},
        "id": {"type": "string", "format": "uuid"},
        "source": {"type": "string", "description": "/services/<service>"},
        "type": {"type": "string", "description": "<routing key>.v<data version>"},
        "subject": {"type": "string", "description": "the patient id"},
        "time": {"type": "string", "format": "date-time"},
        "datacontenttype": {"const": "application/json"},
        "visitid": {"type": "string"},
        "actorid": {"type": "string", "description": "the staff member who caused it"},
        "correlationid": {"type": "string"},
        "sequence": {"type": "integer", "description": "increasing per aggregate"},
        "traceparent": {"type": "string"},
    },
}
_REF = "#/components/schemas/{model}"


def _schema(model: type[BaseModel], schemas: dict[str, Any]) -> dict[str, Any]:
    """The model's JSON schema (camelCase), its nested models moved to components.schemas."""
    schema = model.model_json_schema(by_alias=True, ref_template=_REF, mode="serialization")
    schemas.update(schema.pop("$defs", {}))
    return schema


def document() -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    by_service: dict[str, list[Contract[Any]]] = {}
    for contract in all_contracts():
        by_service.setdefault(contract.publisher, []).append(contract)
    for service, contracts in by_service.items():
        channel_messages = {}
        for contract in contracts:
            key = contract.routing_key
            name = f"{service}.{key}".replace(".", "_")
            data = _schema(contract.model, schemas)
            payload = {**ENVELOPE, "properties": {**ENVELOPE["properties"], "data": data}}
            messages[name] = {
                "name": key,
                "contentType": "application/cloudevents+json",
                "payload": payload,
                "bindings": {"amqp": {"messageType": key, "bindingVersion": "0.3.0"}},
            }
            if contract.summary:
                messages[name]["summary"] = contract.summary
            channel_messages[name] = {"$ref": f"#/components/messages/{name}"}
        channels[service] = {
            "address": f"{service}.events",
            "messages": channel_messages,
            "bindings": {
                "amqp": {
                    "is": "routingKey",
                    "exchange": {"name": f"{service}.events", "type": "topic", "durable": True},
                    "bindingVersion": "0.3.0",
                }
            },
        }
        operations[f"publish_{service}"] = {
            "action": "send",
            "channel": {"$ref": f"#/channels/{service}"},
            "summary": f"{service} publishes through its transactional outbox",
            # AMQP 0.3.0 keeps delivery properties on the operation: persistent, confirmed.
            "bindings": {"amqp": {"deliveryMode": 2, "ack": True, "bindingVersion": "0.3.0"}},
        }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Kliniki events",
            "version": "1.0.0",
            "description": "Generated from shared/kliniki/contracts by tools/asyncapi.py.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": dict(sorted(schemas.items()))},
    }


def render() -> str:
    return yaml.safe_dump(document(), sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    asyncapi, events_md = DOCS / "asyncapi.yaml", DOCS / "events.md"
    current = events_md.read_text()
    if "--check" in sys.argv:
        fresh = asyncapi.exists() and asyncapi.read_text() == render()
        sys.exit(0 if fresh and render_events_md(current) == current else 1)
    asyncapi.write_text(render())
    events_md.write_text(render_events_md(current))
