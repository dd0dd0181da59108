"""Billing's use cases, each given plain arguments (billing.handlers reads them off the events;
billing.api off the requests): the invoice of a visit (billing.invoice) follows what
registration and the departments report; the till (billing.payments) takes the money.

Billing only listens: it never refuses or delays what a department does, and nothing waits for
it. The readiness rule is evaluated after each event, whatever order they arrive in.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.ext.asyncio import AsyncSession

from billing import payments
from billing.domain import ChargeKind, OrderKind, OrderStatus, PriceList, VisitOrder
from billing.invoice import Cause, Invoices, summary, sums_of
from billing.schemas import InvoiceOut, PaymentCreate, PaymentReceipt
from kliniki.auth import Principal
from kliniki.uow import UnitOfWork
from kliniki.worklist.service import Worklist


class Billing:
    """Billing's use cases, with the price list and the PAYMENT worklist they need."""

    def __init__(self, prices: PriceList, worklist: Worklist) -> None:
        self.prices = prices
        self.worklist = worklist
        self.invoices = Invoices(prices, worklist)

    async def read_invoice(self, session: AsyncSession, visit_id: str) -> InvoiceOut:
        return await self.invoices.read(session, visit_id)

    async def take_payment(
        self, uow: UnitOfWork, cashier: Principal, visit_id: str, body: PaymentCreate
    ) -> PaymentReceipt:
        return await payments.take_payment(self.invoices, uow, cashier, visit_id, body)

    async def visit_changed(
        self,
        uow: UnitOfWork,
        visit_id: str,
        patient_id: str,
        *,
        visit_version: int | None,
        payment_type: str | None,
        visit_status: str | None,
        cause: str,
    ) -> None:
        """Registration's word on the visit: whom to bill, how the visit is paid, its status
        (closed visits take no pay). An older word than the one applied changes nothing."""
        invoice = await self.invoices.locked(uow, visit_id, patient_id)
        if visit_version is None or visit_version <= invoice.visit_version:
            await self.invoices.evaluate_readiness(uow, invoice)
            return
        payment_type = payment_type or invoice.payment_type
        visit_status = visit_status or invoice.visit_status or "REGISTERED"
        if (payment_type, visit_status) == (invoice.payment_type, invoice.visit_status):
            invoice.visit_version = visit_version  # nothing billing keeps has changed
            await self.invoices.evaluate_readiness(uow, invoice)
            return
        before = summary(invoice, await sums_of(uow.session, invoice))
        invoice.visit_version = visit_version
        invoice.payment_type, invoice.visit_status = payment_type, visit_status
        await uow.session.flush()
        after = summary(invoice, await sums_of(uow.session, invoice))
        await uow.audit("UPDATE", "INVOICE", invoice.id, before=before, after=after, details=cause)
        await self.invoices.evaluate_readiness(uow, invoice)

    async def consultation_completed(
        self,
        uow: UnitOfWork,
        visit_id: str,
        patient_id: str,
        *,
        lab_request_ids: list[str],
        prescription_ids: list[str],
        completed_at: dt.datetime,
        cause: Cause,
    ) -> None:
        """The consultation is billed, and the orders it names are waited for."""
        invoice = await self.invoices.locked(uow, visit_id, patient_id)
        for order_id in lab_request_ids:
            await self.invoices.track_order(
                uow, invoice, order_id, OrderKind.LAB_REQUEST, OrderStatus.PENDING
            )
        for order_id in prescription_ids:
            await self.invoices.track_order(
                uow, invoice, order_id, OrderKind.PRESCRIPTION, OrderStatus.PENDING
            )
        if invoice.consultation_completed_at is None:
            invoice.consultation_completed_at = completed_at
        # One consultation fee per visit, however many times the doctor hands the patient on.
        await self.invoices.charge(
            uow,
            invoice,
            cause,
            kind=ChargeKind.CONSULTATION,
            code=None,
            description="Consultation",
            price=self.prices.consultation_price(),
            source_ref=visit_id,
        )
        await self.invoices.evaluate_readiness(uow, invoice)

    async def order_reported(self, uow: UnitOfWork, order: VisitOrder, status: OrderStatus) -> None:
        """An order created or cancelled by clinical: one more (or one less) thing to wait for."""
        invoice = await self.invoices.locked(uow, order.visit_id, order.patient_id)
        await self.invoices.track_order(uow, invoice, order.order_id, order.kind, status)
        await self.invoices.evaluate_readiness(uow, invoice)

    async def order_fulfilled(
        self, uow: UnitOfWork, order: VisitOrder, *, code: str, name: str, cause: Cause
    ) -> None:
        """A lab test reported or a medication dispensed: the order is done and billed, as
        ``code`` (test type, medication) at its listed price (its results are none of
        billing's)."""
        invoice = await self.invoices.locked(uow, order.visit_id, order.patient_id)
        await self.invoices.track_order(
            uow, invoice, order.order_id, order.kind, OrderStatus.FULFILLED
        )
        if order.kind is OrderKind.LAB_REQUEST:
            charge_kind, label, price = (
                ChargeKind.LAB_TEST,
                "Lab test",
                self.prices.lab_test_price(code),
            )
        else:
            charge_kind, label, price = (
                ChargeKind.MEDICATION,
                "Medication",
                self.prices.medication_price(code),
            )
        await self.invoices.charge(
            uow,
            invoice,
            cause,
            kind=charge_kind,
            code=code,
            description=f"{label}: {name}",
            price=price,
            source_ref=order.order_id,
        )
        await self.invoices.evaluate_readiness(uow, invoice)
