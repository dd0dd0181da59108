"""The audit writer: one append-only row per change, in the change's own transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.db import KernelTables


async def write_audit(
    session: AsyncSession,
    tables: KernelTables,
    *,
    actor_id: str,
    action: str,
    resource: str,
    resource_id: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    details: str | None = None,
    request_id: str | None = None,
) -> None:
    await session.execute(
        insert(tables.audit_log).values(
            actor_id=actor_id,
            action=action,
            resource=resource,
            resource_id=resource_id,
            before=before,
            after=after,
            details=details,
            request_id=request_id,
        )
    )
