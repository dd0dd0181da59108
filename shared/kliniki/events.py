"""The CloudEvents 1.0 envelope every service publishes (a contract: docs/events.md).

``type`` carries the data version (``patient.registered.v1``); the routing key is the type
without it (``patient.registered``). Consumers dispatch on the routing key and ignore envelope
extensions and data fields they do not know.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# The AMQP header consumers' consistent-hash exchanges partition by (kliniki.consumer).
PARTITION_KEY_HEADER = "x-kliniki-partition-key"

_VERSION_SUFFIX = re.compile(r"\.v(\d+)$")

# What goes into AMQP properties (message_id, type, correlation_id) must fit a short string
# (255 bytes): printable ASCII, bounded here where every event is made, in every service.
AmqpShortText = Annotated[str, StringConstraints(max_length=128, pattern=r"^[!-~]+$")]
# Identifiers carried in the envelope (ids, never free text).
EnvelopeId = Annotated[str, StringConstraints(max_length=128)]


class CloudEvent(BaseModel):
    model_config = ConfigDict(extra="allow")

    specversion: str = "1.0"
    id: AmqpShortText = Field(default_factory=lambda: str(uuid.uuid4()))
    source: EnvelopeId
    type: AmqpShortText
    subject: EnvelopeId | None = None
    time: dt.datetime = Field(default_factory=lambda: dt.datetime.now(dt.UTC))
    datacontenttype: str = "application/json"
    data: dict[str, Any] = Field(default_factory=dict)
    # Extensions (lower-case alphanumerics, as CloudEvents requires).
    visitid: EnvelopeId | None = None
    actorid: EnvelopeId | None = None
    correlationid: AmqpShortText | None = None
    sequence: int | None = None
    traceparent: EnvelopeId | None = None

    @property
    def routing_key(self) -> str:
        """``patient.registered.v1`` -> ``patient.registered``."""
        return _VERSION_SUFFIX.sub("", self.type)

    @property
    def partition_key(self) -> str:
        """What keeps events in order among themselves (kliniki.consumer): the patient (the
        subject), so a patient's events and so each of their visits' stay in order; without
        one the visit, else the publisher (staff.* events stay in order among themselves)."""
        return self.subject or self.visitid or self.source

    @property
    def data_version(self) -> int:
        match = _VERSION_SUFFIX.search(self.type)
        return int(match.group(1)) if match else 1

    def to_json_bytes(self) -> bytes:
        return self.model_dump_json(exclude_none=True).encode()


def versioned_type(routing_key: str, version: int = 1) -> str:
    return f"{routing_key}.v{version}"
