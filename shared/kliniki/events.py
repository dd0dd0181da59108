"""The CloudEvents 1.0 envelope every service publishes (DESIGN.md section 2, contract).

``type`` carries the data version (``patient.registered.v1``); the routing key is the type
without it (``patient.registered``). Consumers dispatch on the routing key and ignore envelope
extensions and data fields they do not know.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

_VERSION_SUFFIX = re.compile(r"\.v(\d+)$")


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    source: str
    type: str
    subject: str | None = None
    time: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    # Extensions (lower-case alphanumerics, as CloudEvents requires).
    visitid: str | None = None
    actorid: str | None = None
    correlationid: str | None = None
    sequence: int | None = None
    traceparent: str | None = None

    @property
    def routing_key(self) -> str:
        """``patient.registered.v1`` -> ``patient.registered``."""
        return _VERSION_SUFFIX.sub("", self.type)

    @property
    def data_version(self) -> int:
        match = _VERSION_SUFFIX.search(self.type)
        return int(match.group(1)) if match else 1

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def versioned_type(routing_key: str, version: int = 1) -> str:
    return f"{routing_key}.v{version}"
