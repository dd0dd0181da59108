"""Write docs/asyncapi.yaml (AsyncAPI 3.0) from the event tables of docs/events.md.

    .venv/bin/python tools/asyncapi.py           # rewrite docs/asyncapi.yaml
    .venv/bin/python tools/asyncapi.py --check   # exit 1 if it is out of date

docs/events.md is the one place the events are written down; this makes it machine-readable:
one channel per topic exchange, one message per routing key, the CloudEvents envelope as the
payload with the data fields listed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

import yaml

DOCS = Path(__file__).resolve().parents[1] / "docs"
_SECTION = re.compile(r"^## (\S+)\.events")
_WORKLIST_SECTION = "## Every department with a worklist"
DEPARTMENTS = ("triage", "clinical", "lab", "pharmacy", "billing")
_ROW = re.compile(r"^\| (`[^|]+`(?:[^|]*)) \| (.+) \|$")
_KEY = re.compile(r"`([a-z_]+\.[a-z_]+)`|`\.([a-z_]+)`")
_FIELD = re.compile(r"\b([a-z][A-Za-z]+)\b")


def parse_events(markdown: str) -> dict[str, dict[str, list[str]]]:
    """exchange service -> routing key -> data field names."""
    events: dict[str, dict[str, list[str]]] = {}
    service = None
    for line in markdown.splitlines():
        if match := _SECTION.match(line):
            service = match.group(1)
            events.setdefault(service, {})
            continue
        if line.startswith(_WORKLIST_SECTION):
            service = "worklist"
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
    shared = events.pop("worklist", {})
    for department in DEPARTMENTS:
        events.setdefault(department, {}).update(shared)
    return events


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


def document(events: dict[str, dict[str, list[str]]]) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for service, keys in events.items():
        channel_messages = {}
        for key, fields in keys.items():
            name = f"{service}.{key}".replace(".", "_")
            payload = {
                **ENVELOPE,
                "properties": {
                    **ENVELOPE["properties"],
                    "data": {
                        "type": "object",
                        "properties": {f: {} for f in fields},
                        "additionalProperties": True,
                    },
                },
            }
            messages[name] = {
                "name": key,
                "contentType": "application/cloudevents+json",
                "payload": payload,
                "bindings": {"amqp": {"messageType": key, "bindingVersion": "0.3.0"}},
            }
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
            "description": "Generated from docs/events.md by tools/asyncapi.py.",
        },
        "defaultContentType": "application/cloudevents+json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def render() -> str:
    events = parse_events((DOCS / "events.md").read_text())
    return yaml.safe_dump(document(events), sort_keys=False, allow_unicode=True)


if __name__ == "__main__":
    target = DOCS / "asyncapi.yaml"
    if "--check" in sys.argv:
        sys.exit(0 if target.exists() and target.read_text() == render() else 1)
    target.write_text(render())
