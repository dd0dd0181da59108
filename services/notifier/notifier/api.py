"""The notifier's HTTP routes: notifications and presence for a page that is not connected."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import Field

from kliniki.access import PRESENCE_ENTITY_ROLES, may_see_presence
from kliniki.auth import Principal
from kliniki.paging import PageQuery
from kliniki.problems import Forbidden, InvalidInput
from kliniki.schemas import StrictApiModel
from kliniki.web import UoW, answer, current_principal
from notifier import feed

Staff = Annotated[Principal, Depends(current_principal)]


BIGINT_MAX = 2**63 - 1  # notification ids are PostgreSQL bigints


class MarkRead(StrictApiModel):
    ids: list[Annotated[int, Field(ge=1, le=BIGINT_MAX)]]


def notifications_router() -> APIRouter:
    """Notifications and presence, for a page that is not connected."""
    router = APIRouter(tags=["notifications"])

    @router.get("/notifications", summary="My notifications, unread first")
    async def list_notifications(
        principal: Staff,
        uow: UoW,
        request: Request,
        page: PageQuery,
        unread: Annotated[bool, Query(description="Only unread ones")] = False,
    ) -> JSONResponse:
        found = await feed.listing(uow.session, principal, unread, page)
        return answer(principal, "NOTIFICATION", found.items, page=found, request=request)

    @router.post("/notifications/read", summary="Mark notifications read")
    async def mark_read(body: MarkRead, principal: Staff, uow: UoW) -> dict[str, int]:
        count = await feed.mark_read(uow.session, principal, body.ids[:1000])
        await uow.commit()
        return {"marked": count}

    @router.get("/presence", summary="Who has an entity open (viewing or editing), on any replica")
    async def presence(
        request: Request,
        principal: Staff,
        entity_type: Annotated[str, Query(alias="entityType", min_length=1, max_length=200)],
        entity_id: Annotated[str, Query(alias="entityId", min_length=1, max_length=200)],
    ) -> dict[str, Any]:
        if entity_type not in PRESENCE_ENTITY_ROLES:
            raise InvalidInput("entityType", f"one of {', '.join(sorted(PRESENCE_ENTITY_ROLES))}")
        if not may_see_presence(principal.roles, entity_type):
            raise Forbidden(f"your roles may not open a {entity_type}")
        board = request.app.state.board
        return {
            "entityType": entity_type,
            "entityId": entity_id,
            "members": board.members(entity_type, entity_id),
        }

    return router
