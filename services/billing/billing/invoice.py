"""A visit's invoice: its charges, the orders it waits for, readiness for payment, settlement.

Every change works on the visit's invoice locked first (``Invoices.locked``), so a visit's
charges, payments and settlement happen one after another, whichever event or request comes
first. Each writes, publishes and audits through one unit of work; the caller commits.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing import events
from billing.domain import (
    CLOSED_VISIT_STATUSES,
    ZERO,
    ChargeKind,
    InvoiceStatus,
    OrderKind,
    OrderStatus,
    Price,
    PriceList,
    invoice_status,
    merged_order_status,
    ready_for_payment,
    services_of,
)
from billing.models import Charge, Invoice, Payment, VisitOrder
from billing.schemas import ChargeOut, InvoiceOut, PaymentOut
from kliniki.db import new_id, utcnow
from kliniki.problems import NotFound
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import AssignmentStatus, Priority
from kliniki.worklist.service import Worklist


@dataclass(frozen=True)
class Cause:
    """The event a charge comes from: its id makes the charge idempotent, the rest is for the
    audit trail."""

    event_id: str
    service: str
    routing_key: str

    def __str__(self) -> str:
        return f"on {self.service} {self.routing_key} {self.event_id}"


@dataclass(frozen=True)
class Sums:
    """What an invoice comes to, computed from its rows each time (never stored)."""

    charges: list[Charge]
    payments: list[Payment]

    @property
    def total(self) -> Decimal:
        return sum((c.amount for c in self.charges), ZERO)

    @property
    def paid(self) -> Decimal:
        return sum((p.amount for p in self.payments), ZERO)

    @property
    def balance(self) -> Decimal:
        return self.total - self.paid

    @property
    def services(self) -> list[str]:
        return services_of(c.kind for c in self.charges)


def status_of(invoice: Invoice, sums: Sums) -> InvoiceStatus:
    return invoice_status(
        ready=invoice.ready_at is not None,
        settled=invoice.settled_at is not None,
        balance=sums.balance,
    )


def summary(invoice: Invoice, sums: Sums) -> dict[str, Any]:
    """The invoice in the audit log: its state and what it comes to."""
    return {
        "invoiceId": invoice.id,
        "visitId": invoice.visit_id,
        "patientId": invoice.patient_id,
        "status": status_of(invoice, sums).value,
        "paymentType": invoice.payment_type,
        "visitStatus": invoice.visit_status,
        "total": str(sums.total),
        "paid": str(sums.paid),
        "balance": str(sums.balance),
        "version": invoice.version,
    }


async def lock(session: AsyncSession, visit_id: str) -> Invoice | None:
    """The visit's invoice, locked for this transaction (None: billing has heard nothing yet)."""
    return await session.scalar(
        select(Invoice)
        .where(Invoice.visit_id == visit_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


async def sums_of(session: AsyncSession, invoice: Invoice) -> Sums:
    charges = await session.scalars(
        select(Charge).where(Charge.invoice_id == invoice.id).order_by(Charge.created_at, Charge.id)
    )
    payments = await session.scalars(
        select(Payment)
        .where(Payment.invoice_id == invoice.id)
        .order_by(Payment.processed_at, Payment.id)
    )
    return Sums(list(charges.all()), list(payments.all()))


def _order_state(order: VisitOrder, invoice: Invoice) -> dict[str, Any]:
    return {
        "orderId": order.id,
        "kind": order.kind,
        "visitId": order.visit_id,
        "patientId": invoice.patient_id,
        "status": order.status,
        "version": order.version,
    }


class Invoices:
    """The invoices of visits, with the price list and the PAYMENT worklist they need."""

    def __init__(self, prices: PriceList, worklist: Worklist) -> None:
        self.prices = prices
        self.worklist = worklist

    async def locked(self, uow: UnitOfWork, visit_id: str, patient_id: str) -> Invoice:
        """The visit's invoice, locked for this transaction; opened at the first word of it."""
        now = utcnow()
        opened = (
            await uow.session.execute(
                pg_insert(Invoice)
                .values(
                    id=new_id("invoice"),
                    visit_id=visit_id,
                    patient_id=patient_id,
                    currency=self.prices.currency,
                    visit_version=0,
                    version=1,
                    created_at=now,
                    updated_at=now,
                )
                .on_conflict_do_nothing(index_elements=[Invoice.visit_id])
                .returning(Invoice.id)
            )
        ).first()
        invoice = await lock(uow.session, visit_id)
        assert invoice is not None
        if opened is not None:
            await uow.audit("CREATE", "INVOICE", invoice.id, after=summary(invoice, Sums([], [])))
        return invoice

    async def out(self, session: AsyncSession, invoice: Invoice) -> InvoiceOut:
        sums = await sums_of(session, invoice)
        pending = await session.scalars(
            select(VisitOrder.id).where(
                VisitOrder.invoice_id == invoice.id,
                VisitOrder.status == OrderStatus.PENDING.value,
            )
        )
        snapshot = await session.get(self.worklist.models.PatientSnapshot, invoice.patient_id)
        return InvoiceOut(
            id=invoice.id,
            visit_id=invoice.visit_id,
            patient_id=invoice.patient_id,
            patient_name=snapshot.full_name if snapshot else None,
            op_number=snapshot.op_number if snapshot else None,
            status=status_of(invoice, sums),
            payment_type=invoice.payment_type,
            currency=invoice.currency,
            items=[ChargeOut.model_validate(c) for c in sums.charges],
            payments=[PaymentOut.model_validate(p) for p in sums.payments],
            services=sums.services,
            total=sums.total,
            paid=sums.paid,
            balance=sums.balance,
            pending_orders=len(pending.all()),
            ready_at=invoice.ready_at,
            settled_at=invoice.settled_at,
            settled_by=invoice.settled_by,
            version=invoice.version,
        )

    async def read(self, session: AsyncSession, visit_id: str) -> InvoiceOut:
        invoice = await session.scalar(select(Invoice).where(Invoice.visit_id == visit_id))
        if invoice is None:
            raise NotFound(f"billing has no invoice for visit {visit_id} (no event about it yet)")
        return await self.out(session, invoice)

    # -- orders and charges ---------------------------------------------------------------------

    async def track_order(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        order_id: str,
        kind: OrderKind,
        reported: OrderStatus,
    ) -> None:
        order = await uow.session.get(VisitOrder, order_id)
        if order is None:
            order = VisitOrder(
                id=order_id,
                invoice_id=invoice.id,
                visit_id=invoice.visit_id,
                kind=kind.value,
                status=reported.value,
            )
            uow.session.add(order)
            await uow.session.flush()
            await uow.audit("CREATE", "VISIT_ORDER", order.id, after=_order_state(order, invoice))
            return
        status = merged_order_status(OrderStatus(order.status), reported)
        if status.value == order.status:
            return  # the same news again, or older news than what billing knows
        before = _order_state(order, invoice)
        order.status = status.value
        await uow.session.flush()
        await uow.audit(
            "UPDATE", "VISIT_ORDER", order.id, before=before, after=_order_state(order, invoice)
        )

    async def charge(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        cause: Cause,
        *,
        kind: ChargeKind,
        code: str | None,
        description: str,
        price: Price,
        source_ref: str,
    ) -> None:
        """Add the item once: a replayed event, or the same work reported again, adds nothing."""
        charge_id = new_id("charge")
        added = (
            await uow.session.execute(
                pg_insert(Charge)
                .values(
                    id=charge_id,
                    invoice_id=invoice.id,
                    visit_id=invoice.visit_id,
                    patient_id=invoice.patient_id,
                    kind=kind.value,
                    code=code,
                    description=description + ("" if price.listed else " (not in the price list)"),
                    amount=price.amount,
                    currency=self.prices.currency,
                    priced=price.listed,
                    source_event_id=cause.event_id,
                    source_ref=source_ref,
                    created_by=uow.actor_id,
                    created_at=utcnow(),
                )
                .on_conflict_do_nothing()
                .returning(Charge.id)
            )
        ).first()
        if added is None:
            return
        charge = await uow.session.get_one(Charge, charge_id)
        invoice.updated_at = utcnow()  # a new line is a new version of the invoice
        await uow.session.flush()
        await uow.publish(
            events.CHARGE_ADDED,
            events.ChargeAdded(
                charge_id=charge.id,
                visit_id=charge.visit_id,
                patient_id=charge.patient_id,
                kind=charge.kind,
                description=charge.description,
                amount=charge.amount,
                currency=charge.currency,
                source_event_id=charge.source_event_id,
            ),
            subject=charge.patient_id,
            visit_id=charge.visit_id,
        )
        await uow.audit(
            "CREATE",
            "CHARGE",
            charge.id,
            after=ChargeOut.model_validate(charge),
            details=str(cause),
        )

    # -- ready for payment, settled -------------------------------------------------------------

    async def evaluate_readiness(self, uow: UnitOfWork, invoice: Invoice) -> None:
        """After every event: once the doctor is done and no order is pending, the patient goes
        to the till (``visit.ready_for_payment``, once) and onto the PAYMENT worklist."""
        if invoice.ready_at is not None:
            return
        session = uow.session
        statuses = await session.scalars(
            select(VisitOrder.status).where(VisitOrder.invoice_id == invoice.id)
        )
        snapshot = await session.get(self.worklist.models.PatientSnapshot, invoice.patient_id)
        if invoice.visit_status in CLOSED_VISIT_STATUSES or not ready_for_payment(
            consultation_completed=invoice.consultation_completed_at is not None,
            order_statuses=statuses.all(),
            payment_type_known=invoice.payment_type is not None and snapshot is not None,
        ):
            return
        sums = await sums_of(session, invoice)
        before = summary(invoice, sums)
        invoice.ready_at = utcnow()
        await session.flush()
        assert invoice.payment_type is not None
        await uow.publish(
            events.VISIT_READY_FOR_PAYMENT,
            events.VisitReadyForPayment(
                visit_id=invoice.visit_id,
                patient_id=invoice.patient_id,
                total_amount=sums.total,
                currency=invoice.currency,
                payment_type=invoice.payment_type,
                services=sums.services,
                items=[
                    events.InvoiceItem(
                        charge_id=c.id, kind=c.kind, description=c.description, amount=c.amount
                    )
                    for c in sums.charges
                ],
            ),
            subject=invoice.patient_id,
            visit_id=invoice.visit_id,
        )
        await uow.audit(
            "READY_FOR_PAYMENT", "INVOICE", invoice.id, before=before, after=summary(invoice, sums)
        )
        if sums.balance > ZERO:
            await self.worklist.place(
                uow,
                patient_id=invoice.patient_id,
                visit_id=invoice.visit_id,
                priority=Priority.NORMAL,
                reason=f"Ready for payment: {invoice.currency} {sums.total} "
                f"({', '.join(sums.services)}), {invoice.payment_type}",
                cause="ready for payment",
            )
        else:  # paid as care went on: nothing left to collect
            await self.settle(uow, invoice, sums)

    async def settle(self, uow: UnitOfWork, invoice: Invoice, sums: Sums) -> None:
        """Paid in full: ``invoice.settled`` (registration completes the visit) and the PAYMENT
        assignment completed, in the transaction that took the last payment."""
        before = summary(invoice, sums)
        invoice.settled_at = utcnow()
        invoice.settled_by = uow.actor_id
        await uow.session.flush()
        await uow.publish(
            events.INVOICE_SETTLED,
            events.InvoiceSettled(
                visit_id=invoice.visit_id,
                patient_id=invoice.patient_id,
                total_amount=sums.total,
                paid_amount=sums.paid,
                payment_type=invoice.payment_type,
                settled_by=uow.actor_id,
                settled_at=invoice.settled_at,
            ),
            subject=invoice.patient_id,
            visit_id=invoice.visit_id,
        )
        await uow.audit(
            "SETTLE", "INVOICE", invoice.id, before=before, after=summary(invoice, sums)
        )
        assignment = await self.worklist.active_for_visit(uow.session, invoice.visit_id)
        if assignment is not None:
            await self.worklist.update(
                uow,
                assignment.id,
                expected_version=assignment.version,
                fields={"status": AssignmentStatus.COMPLETED.value},
            )
