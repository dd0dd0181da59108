"""The notifier's HTTP routes: the notification list for a page that is not connected."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from kliniki.auth import Principal
from kliniki.schemas import StrictApiModel
from kliniki.web import UoW, current_principal
from notifier import feed

router = APIRouter(tags=["notifications"])
Staff = Annotated[Principal, Depends(current_principal)]


class MarkRead(StrictApiModel):
    ids: list[int]


@router.get("/notifications", summary="My notifications, unread first")
async def list_notifications(
    principal: Staff,
    uow: UoW,
    unread: Annotated[bool, Query(description="Only unread ones")] = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[dict[str, Any]]:
    return await feed.listing(uow.session, principal, unread, limit)


@router.post("/notifications/read", summary="Mark notifications read")
async def mark_read(body: MarkRead, principal: Staff, uow: UoW) -> dict[str, int]:
    count = await feed.mark_read(uow.session, principal, body.ids[:1000])
    await uow.commit()
    return {"marked": count}
