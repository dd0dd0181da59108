"""The base of every request and response model: camelCase on the wire, snake_case in code."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict
from pydantic.alias_generators import to_camel

_MARKUP_OR_CONTROL = re.compile(r"[<>\x00-\x1f\x7f]")


def plain_name(value: str) -> str:
    """A name shown in lists and notifications (a medication, a diagnosis): no markup.

    Free text (notes, complaints) stays as typed and is always shown as text; names are
    checked strictly, since they are echoed in worklist reasons, invoices and frames.
    """
    if _MARKUP_OR_CONTROL.search(value):
        raise ValueError("may not contain '<', '>' or control characters")
    return value


PlainName = Annotated[str, AfterValidator(plain_name)]


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
