"""The base of every request and response model: camelCase on the wire, snake_case in code."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field
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


# A field of an answer that only clinical readers get (kliniki.access.visible); others' answers
# leave it out.
ClinicalText = Annotated[
    str | None, Field(description="Clinical: left out for roles without clinical:read.")
]
