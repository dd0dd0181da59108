"""Orders a department fulfils (lab requests, prescriptions), and the worklist that follows them.

Clinical orders; the lab and the pharmacy each keep their own copy of the orders they fulfil,
and a patient is on their worklist while the visit has orders open there. The rules are the
same in every such department, so they live here once:

- an order arrives as an event and puts the patient on the worklist (once per visit; a second
  order of the same visit re-routes that assignment, at the more urgent priority);
- the visit's assignment is finished in the transaction that closes its last open order:
  completed when something was fulfilled meanwhile, cancelled when everything was cancelled;
- staff cannot complete the assignment by hand while an order of the visit is still open.

An order model has the columns ``id``, ``patient_id``, ``visit_id``, ``status``,
``cancelled_by``, ``cancelled_at``, ``cancel_reason`` and the ``Versioned`` ones.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from kliniki.consumer import RetryLater, Subscription
from kliniki.contracts import Handlers, ParsedHandler
from kliniki.db import load
from kliniki.events import CloudEvent
from kliniki.paging import Page, PageRequest, fetch_page, require_patient_or_visit
from kliniki.problems import Conflict
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import AssignmentStatus, Priority
from kliniki.worklist.models import AssignmentTable
from kliniki.worklist.service import Worklist

CANCELLED = "CANCELLED"


class OrderedByClinical(Protocol):
    """What clinical's events say of every order (``kliniki.contracts.clinical``)."""

    @property
    def order_id(self) -> str: ...
    @property
    def patient_id(self) -> str: ...
    @property
    def visit_id(self) -> str: ...


@dataclass(frozen=True)
class Orders:
    # LabRequest, Prescription: the columns named in this module's docstring.
    model: type[Any]
    resource: str  # the audit log's name for it: LAB_REQUEST, PRESCRIPTION
    noun: str  # in messages: "lab request"
    open_statuses: frozenset[str]
    fulfilled_status: str
    # One line for the assignee: "Cardiac enzymes ordered by dr_smith".
    describe: Callable[[Any], str]
    # The record as the API answers it (and as the audit log keeps it).
    to_out: Callable[[Any], BaseModel]
    # The columns the bench works by: the order's priority (URGENT first), then its arrival.
    priority_column: str
    ordered_at_column: str

    async def get(self, session: AsyncSession, order_id: str, *, for_update: bool = False) -> Any:
        return await load(session, self.model, order_id, self.noun, for_update=for_update)

    async def read(self, session: AsyncSession, order_id: str) -> BaseModel:
        return self.to_out(await self.get(session, order_id))

    async def listing(
        self,
        session: AsyncSession,
        page: PageRequest,
        *,
        status: str | None,
        patient_id: str | None,
        visit_id: str | None,
    ) -> Page:
        """A patient's or a visit's orders; for everyone's, only the open ones (the bench's
        work). Urgent first, then in order of arrival: the order the bench works in."""
        if status not in self.open_statuses:
            open_ones = "/".join(sorted(self.open_statuses))
            require_patient_or_visit(
                patient_id, visit_id, f"{self.noun}s", f" (or ask for status={open_ones})"
            )
        m = self.model
        query = select(m)
        if status is not None:
            query = query.where(m.status == status)
        if visit_id:
            query = query.where(m.visit_id == visit_id)
        if patient_id:
            query = query.where(m.patient_id == patient_id)
        urgent_first = case((getattr(m, self.priority_column) == Priority.URGENT.value, 0), else_=1)
        keys = [urgent_first, getattr(m, self.ordered_at_column), m.id]
        found = await fetch_page(session, query, keys, page)
        return Page([self.to_out(o) for o in found.items], found.next_cursor)

    async def arrived(
        self,
        uow: UnitOfWork,
        worklist: Worklist,
        order: OrderedByClinical,
        event: CloudEvent,
    ) -> dict[str, Any] | None:
        """The columns every department's copy of a new order shares: its id, its patient's
        name and number from the snapshot, its visit. None when the order is here already
        (announced again under a new event id); an order that overtook registration's event
        waits for it."""
        if await uow.session.get(self.model, order.order_id) is not None:
            return None
        snapshot = await uow.session.get(worklist.models.PatientSnapshot, order.patient_id)
        if snapshot is None:
            raise RetryLater(f"patient {order.patient_id} is not known here yet")
        return {
            "id": order.order_id,
            "patient_id": order.patient_id,
            "visit_id": order.visit_id or event.visitid or snapshot.current_visit_id,
            "patient_name": snapshot.full_name,
            "op_number": snapshot.op_number,
        }

    async def receive(
        self, uow: UnitOfWork, worklist: Worklist, order: Any, *, priority: Priority, cause: str
    ) -> None:
        """Keep a new order and put its patient on the worklist."""
        uow.session.add(order)
        await uow.session.flush()
        await uow.audit("CREATE", self.resource, order.id, after=self.to_out(order), details=cause)
        still_open = await self.open_for_visit(uow.session, order.visit_id)
        await worklist.place(
            uow,
            patient_id=order.patient_id,
            visit_id=order.visit_id,
            priority=priority,
            reason="; ".join(self.describe(o) for o in still_open),
            cause=cause,
        )

    async def open_for_visit(self, session: AsyncSession, visit_id: str) -> list[Any]:
        m = self.model
        rows = await session.scalars(
            select(m)
            .where(m.visit_id == visit_id, m.status.in_(self.open_statuses))
            .order_by(m.created_at, m.id)
        )
        return list(rows.all())

    async def cancel(
        self, uow: UnitOfWork, worklist: Worklist, order_id: str, *, reason: str | None
    ) -> None:
        """The clinician cancelled the order: stop work on it, unless it is already fulfilled."""
        order = await uow.session.get(self.model, order_id, with_for_update=True)
        if order is None:
            raise RetryLater(f"{self.noun} {order_id} is not here yet")
        if order.status not in self.open_statuses:
            return  # fulfilled before the cancellation arrived, or cancelled already
        before = self.to_out(order)
        order.status = CANCELLED
        order.cancelled_by = uow.actor_id
        order.cancelled_at = dt.datetime.now(dt.UTC)
        order.cancel_reason = reason
        await uow.session.flush()
        await uow.audit("CANCEL", self.resource, order.id, before=before, after=self.to_out(order))
        await self.settle_visit(uow, worklist, order.visit_id)

    async def settle_visit(self, uow: UnitOfWork, worklist: Worklist, visit_id: str) -> None:
        """Finish the visit's assignment if none of its orders is open any more."""
        # The row lock serialises the visit's last two closings: the second one, waiting here,
        # then sees the first one's order closed and finishes the assignment.
        assignment = await worklist.active_for_visit(uow.session, visit_id)
        if assignment is None or await self.open_for_visit(uow.session, visit_id):
            return
        m = self.model
        fulfilled = await uow.session.scalar(
            select(func.count())
            .select_from(m)
            .where(
                m.visit_id == visit_id,
                m.status == self.fulfilled_status,
                m.updated_at >= assignment.created_at,
            )
        )
        status = AssignmentStatus.COMPLETED if fulfilled else AssignmentStatus.CANCELLED
        await worklist.update(
            uow, assignment.id, expected_version=assignment.version, fields={"status": status.value}
        )

    async def refuse_closing_while_open(self, uow: UnitOfWork, assignment: AssignmentTable) -> None:
        """The ``before_assignment_closed`` hook: a patient leaves this worklist (completed or
        cancelled) only with their orders done or cancelled."""
        if assignment.visit_id is None:
            return
        still_open = await self.open_for_visit(uow.session, assignment.visit_id)
        if still_open:
            # Counted, not described: an admin or the in-charge may be asking (no clinical
            # details for them, kliniki.access).
            raise Conflict(
                f"this visit still has {len(still_open)} open {self.noun}(s): complete or "
                "cancel them first; the assignment then completes by itself",
                openOrders=[o.id for o in still_open],
            )


def order_subscriptions(
    orders: Orders,
    worklist: Worklist,
    receive: ParsedHandler[Any],
    *,
    created: str,
    cancelled: str,
) -> list[Subscription]:
    """A fulfilling department's intake of clinical's orders: a new one is kept by
    ``receive`` (it puts the patient on the worklist); a cancelled one stops work."""
    handles = Handlers()
    handles("clinical", created)(receive)

    @handles("clinical", cancelled)
    async def on_cancelled(uow: UnitOfWork, event: CloudEvent, data: OrderCancelled) -> None:
        await orders.cancel(uow, worklist, data.order_id, reason=data.reason)

    return handles.subscriptions()


class OrderCancelled(OrderedByClinical, Protocol):
    @property
    def reason(self) -> str: ...
