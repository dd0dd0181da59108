"""Every list is answered a page at a time (README, "How it holds together").

A list route takes ``limit`` (default 50, at most 200) and ``cursor``; its answer is the JSON
array it always was, and when more follow, the next page's cursor comes in the
``X-Next-Cursor`` header and as ``Link: <?...&cursor=...>; rel="next"``. Cursors are keyset
positions (the last row's sort key), so a page never repeats or skips a row because rows were
added before it meanwhile.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query
from sqlalchemy import ColumnElement, Select, literal, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import QueryableAttribute

from kliniki.problems import InvalidInput

DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_CURSOR_LENGTH = 1000


@dataclass(frozen=True)
class PageRequest:
    limit: int = DEFAULT_LIMIT
    cursor: str | None = None


def page_request(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="How many to answer (the rest: cursor).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=MAX_CURSOR_LENGTH,
            description="The X-Next-Cursor of the previous page.",
        ),
    ] = None,
) -> PageRequest:
    return PageRequest(limit, cursor)


PageQuery = Annotated[PageRequest, Depends(page_request)]


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _plain(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return {"dt": value.isoformat()}
    if isinstance(value, dt.date):
        return {"d": value.isoformat()}
    return value


def _typed(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "dt" in value:
        return dt.datetime.fromisoformat(value["dt"])
    return dt.date.fromisoformat(value["d"])


def _encode(values: Sequence[Any]) -> str:
    plain = [_plain(v) for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(cursor: str, size: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != size:
            raise ValueError("wrong shape")
        return [_typed(v) for v in values]
    except (ValueError, TypeError, KeyError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "cursor", "is not a cursor this list gave; start again without one"
        ) from exc


async def fetch_page(
    session: AsyncSession,
    query: Select[Any],
    keys: Sequence[ColumnElement[Any] | QueryableAttribute[Any]],
    page: PageRequest,
    *,
    descending: bool = False,
    mappings: bool = False,
) -> Page:
    """One page of ``query`` in the order of ``keys``, the last of which is unique (the id).
    Its items are the entities ``query`` selects (or, with ``mappings``, each row's columns)."""
    labelled = (key.label(f"page_key_{n}") for n, key in enumerate(keys))
    query = query.add_columns(*labelled).order_by(*(k.desc() if descending else k for k in keys))
    if page.cursor is not None:
        values = _decode(page.cursor, len(keys))
        if not all(isinstance(v, k.type.python_type) for v, k in zip(values, keys, strict=True)):
            raise InvalidInput("cursor", "is not a cursor this list gave; start again without one")
        after = [literal(v, k.type) for v, k in zip(values, keys, strict=True)]
        position = tuple_(*keys)
        query = query.where(position < tuple_(*after) if descending else position > tuple_(*after))
    rows = (await session.execute(query.limit(page.limit + 1))).all()
    more = len(rows) > page.limit
    rows = rows[: page.limit]
    items = [dict(row._mapping) if mappings else row[0] for row in rows]
    return Page(items, _encode(rows[-1][-len(keys) :]) if more else None)


def require_patient_or_visit(
    patient_id: str | None, visit_id: str | None, what: str, otherwise: str = ""
) -> None:
    """Clinical records are listed one patient (or visit) at a time, never in bulk."""
    if not patient_id and not visit_id:
        raise InvalidInput(
            "patientId",
            f"name the patientId or visitId whose {what} you want{otherwise}; clinical records "
            "are not listed for all patients",
        )
