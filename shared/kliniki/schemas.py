"""The base of every request and response model: camelCase on the wire, snake_case in code."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        from_attributes=True,
        str_strip_whitespace=True,
    )


class StrictApiModel(ApiModel):
    """A request body: unknown fields are refused, so a typo never silently does nothing."""

    model_config = ConfigDict(extra="forbid")
