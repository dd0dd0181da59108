"""Billing's use cases: charges and orders from the departments' events, readiness for payment,
the invoice, payments and settlement.

Every use case works on one visit's invoice, locked first (``_locked_invoice``), so a visit's
charges, payments and settlement happen one after another, whichever event or request comes
first. Each writes, publishes and audits through one unit of work; the caller commits.
"""

from __future__ import annotations

import datetime as dt
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
    PaymentMethod,
    Price,
    PriceList,
    check_processor,
    invoice_status,
    merged_order_status,
    overpayment,
    payment_detail_errors,
    payment_refusal,
    ready_for_payment,
    services_of,
    settles,
)
from billing.models import Charge, Invoice, Payment, VisitOrder
from billing.schemas import ChargeOut, InvoiceOut, PaymentCreate, PaymentOut, PaymentReceipt
from kliniki.auth import Principal
from kliniki.db import new_id, utcnow
from kliniki.events import CloudEvent
from kliniki.problems import Conflict, InvalidInput, NotFound
from kliniki.uow import UnitOfWork
from kliniki.worklist.domain import AssignmentStatus, Priority
from kliniki.worklist.service import Worklist


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


def visit_of(event: CloudEvent) -> tuple[str, str]:
    """(visit id, patient id) an event is about; an event without them cannot be billed."""
    visit_id = event.data.get("visitId") or event.visitid
    patient_id = event.data.get("patientId") or event.subject
    if not visit_id or not patient_id:
        raise ValueError(f"{event.type} {event.id} names no visitId/patientId: cannot bill it")
    return visit_id, patient_id


def _status(invoice: Invoice, sums: Sums) -> InvoiceStatus:
    return invoice_status(
        ready=invoice.ready_at is not None,
        settled=invoice.settled_at is not None,
        balance=sums.balance,
    )


def _summary(invoice: Invoice, sums: Sums) -> dict[str, Any]:
    """The invoice in the audit log: its state and what it comes to."""
    return {
        "invoiceId": invoice.id,
        "visitId": invoice.visit_id,
        "patientId": invoice.patient_id,
        "status": _status(invoice, sums).value,
        "paymentType": invoice.payment_type,
        "visitStatus": invoice.visit_status,
        "total": str(sums.total),
        "paid": str(sums.paid),
        "balance": str(sums.balance),
        "version": invoice.version,
    }


class Billing:
    """Billing's use cases, with the price list and the PAYMENT worklist they need."""

    def __init__(self, prices: PriceList, worklist: Worklist) -> None:
        self.prices = prices
        self.worklist = worklist

    # -- the invoice ---------------------------------------------------------------------------

    async def _locked_invoice(self, uow: UnitOfWork, visit_id: str, patient_id: str) -> Invoice:
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
        invoice = await _lock(uow.session, visit_id)
        assert invoice is not None
        if opened is not None:
            await uow.audit("CREATE", "INVOICE", invoice.id, after=_summary(invoice, Sums([], [])))
        return invoice

    async def _sums(self, session: AsyncSession, invoice: Invoice) -> Sums:
        charges = await session.scalars(
            select(Charge)
            .where(Charge.invoice_id == invoice.id)
            .order_by(Charge.created_at, Charge.id)
        )
        payments = await session.scalars(
            select(Payment)
            .where(Payment.invoice_id == invoice.id)
            .order_by(Payment.processed_at, Payment.id)
        )
        return Sums(list(charges.all()), list(payments.all()))

    async def invoice_out(self, session: AsyncSession, invoice: Invoice) -> InvoiceOut:
        sums = await self._sums(session, invoice)
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
            status=_status(invoice, sums),
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

    async def read_invoice(self, session: AsyncSession, visit_id: str) -> InvoiceOut:
        invoice = await session.scalar(select(Invoice).where(Invoice.visit_id == visit_id))
        if invoice is None:
            raise NotFound(f"billing has no invoice for visit {visit_id} (no event about it yet)")
        return await self.invoice_out(session, invoice)

    # -- what registration says about the visit -------------------------------------------------

    async def visit_changed(self, uow: UnitOfWork, event: CloudEvent) -> None:
        """Registration's visit events (``patient.registered`` and ``visit.opened`` too): whom
        to bill, how the visit is paid, its status (closed visits take no pay)."""
        data = event.data
        visit_id, patient_id = visit_of(event)
        invoice = await self._locked_invoice(uow, visit_id, patient_id)
        # ``patient.registered`` carries the patient's version; a new visit is at version 1.
        visit_version = 1 if event.routing_key == events.PATIENT_REGISTERED else data.get("version")
        if not isinstance(visit_version, int) or visit_version <= invoice.visit_version:
            await self.evaluate_readiness(uow, invoice)
            return  # an older word on the visit than the one already applied
        payment_type = data.get("paymentType") or data.get("insuranceType") or invoice.payment_type
        visit_status = data.get("status") or invoice.visit_status or "REGISTERED"
        if (payment_type, visit_status) == (invoice.payment_type, invoice.visit_status):
            invoice.visit_version = visit_version  # nothing billing keeps has changed
            await self.evaluate_readiness(uow, invoice)
            return
        before = await self._audit_state(uow.session, invoice)
        invoice.visit_version = visit_version
        invoice.payment_type, invoice.visit_status = payment_type, visit_status
        await uow.session.flush()
        after = await self._audit_state(uow.session, invoice)
        await uow.audit(
            "UPDATE",
            "INVOICE",
            invoice.id,
            before=before,
            after=after,
            details=f"on registration {event.routing_key}",
        )
        await self.evaluate_readiness(uow, invoice)

    # -- what the departments did ---------------------------------------------------------------

    async def consultation_completed(self, uow: UnitOfWork, event: CloudEvent) -> None:
        """The consultation is billed, and the orders it names are waited for."""
        data = event.data
        visit_id, patient_id = visit_of(event)
        invoice = await self._locked_invoice(uow, visit_id, patient_id)
        for order_id in data.get("labRequestIds") or []:
            await self._track_order(
                uow, invoice, order_id, OrderKind.LAB_REQUEST, OrderStatus.PENDING
            )
        for order_id in data.get("prescriptionIds") or []:
            await self._track_order(
                uow, invoice, order_id, OrderKind.PRESCRIPTION, OrderStatus.PENDING
            )
        if invoice.consultation_completed_at is None:
            invoice.consultation_completed_at = _when(data.get("completedAt"), event)
        # One consultation fee per visit, however many times the doctor hands the patient on.
        await self._charge(
            uow,
            invoice,
            event,
            kind=ChargeKind.CONSULTATION,
            code=None,
            description="Consultation",
            price=self.prices.consultation_price(),
            source_ref=visit_id,
        )
        await self.evaluate_readiness(uow, invoice)

    async def order_reported(
        self, uow: UnitOfWork, event: CloudEvent, kind: OrderKind, status: OrderStatus
    ) -> None:
        """An order created or cancelled by clinical: one more (or one less) thing to wait for."""
        visit_id, patient_id = visit_of(event)
        invoice = await self._locked_invoice(uow, visit_id, patient_id)
        await self._track_order(uow, invoice, _order_id(event, kind), kind, status)
        await self.evaluate_readiness(uow, invoice)

    async def lab_test_done(self, uow: UnitOfWork, event: CloudEvent) -> None:
        """``lab_request.completed``: the test is billed (its results are none of billing's)."""
        data = event.data
        visit_id, patient_id = visit_of(event)
        invoice = await self._locked_invoice(uow, visit_id, patient_id)
        order_id = _order_id(event, OrderKind.LAB_REQUEST)
        await self._track_order(
            uow, invoice, order_id, OrderKind.LAB_REQUEST, OrderStatus.FULFILLED
        )
        test_type = str(data.get("testType") or "UNKNOWN")
        await self._charge(
            uow,
            invoice,
            event,
            kind=ChargeKind.LAB_TEST,
            code=test_type,
            description=f"Lab test: {data.get('testName') or test_type}",
            price=self.prices.lab_test_price(test_type),
            source_ref=order_id,
        )
        await self.evaluate_readiness(uow, invoice)

    async def medication_dispensed(self, uow: UnitOfWork, event: CloudEvent) -> None:
        """``prescription.dispensed``: the medication is billed."""
        data = event.data
        visit_id, patient_id = visit_of(event)
        invoice = await self._locked_invoice(uow, visit_id, patient_id)
        order_id = _order_id(event, OrderKind.PRESCRIPTION)
        await self._track_order(
            uow, invoice, order_id, OrderKind.PRESCRIPTION, OrderStatus.FULFILLED
        )
        medication = str(data.get("medicationName") or "Medication")
        await self._charge(
            uow,
            invoice,
            event,
            kind=ChargeKind.MEDICATION,
            code=medication,
            description=f"Medication: {medication}",
            price=self.prices.medication_price(medication),
            source_ref=order_id,
        )
        await self.evaluate_readiness(uow, invoice)

    async def _track_order(
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

    async def _charge(
        self,
        uow: UnitOfWork,
        invoice: Invoice,
        event: CloudEvent,
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
                    source_event_id=event.id,
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
            details=f"on {event.source.rsplit('/', 1)[-1]} {event.routing_key} {event.id}",
        )

    # -- ready for payment ----------------------------------------------------------------------

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
        sums = await self._sums(session, invoice)
        before = _summary(invoice, sums)
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
            "READY_FOR_PAYMENT", "INVOICE", invoice.id, before=before, after=_summary(invoice, sums)
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
            await self._settle(uow, invoice, sums)

    # -- payments -------------------------------------------------------------------------------

    async def take_payment(
        self, uow: UnitOfWork, cashier: Principal, visit_id: str, body: PaymentCreate
    ) -> PaymentReceipt:
        """processPayment: money received for the visit; at a zero balance the visit closes."""
        session = uow.session
        invoice = await _lock(session, visit_id)
        if invoice is None:
            raise NotFound(f"billing has no invoice for visit {visit_id} (no event about it yet)")
        sums = await self._sums(session, invoice)
        before = _summary(invoice, sums)
        refusal = payment_refusal(status=_status(invoice, sums), visit_status=invoice.visit_status)
        if refusal is not None:
            current = await self.invoice_out(session, invoice)
            raise Conflict(refusal, current=current.model_dump(mode="json", by_alias=True))
        try:
            check_processor(body.processed_by, cashier.user_id)
        except ValueError as exc:
            raise InvalidInput("processedBy", str(exc)) from exc
        reference = body.reference
        if reference and body.payment_type is PaymentMethod.MOBILE_MONEY:
            reference = reference.upper()  # codes are read out and typed in any case
        errors = payment_detail_errors(body.payment_type, reference, body.payer)
        if errors:
            raise InvalidInput.of(errors)
        too_much = overpayment(body.amount, sums.balance)
        if too_much is not None:
            raise InvalidInput("amount", too_much, balance=float(sums.balance))

        payment = Payment(
            invoice_id=invoice.id,
            visit_id=invoice.visit_id,
            patient_id=invoice.patient_id,
            amount=body.amount,
            currency=invoice.currency,
            payment_type=body.payment_type.value,
            reference=reference,
            payer=body.payer,
            status=body.status,
            processed_by=cashier.user_id,
            processed_by_name=cashier.name,
            processed_at=utcnow(),
        )
        session.add(payment)
        invoice.updated_at = utcnow()  # a payment is a new version of the invoice
        await session.flush()
        sums = Sums(sums.charges, [*sums.payments, payment])
        await uow.publish(
            events.PAYMENT_COMPLETED,
            events.PaymentCompleted(
                payment_id=payment.id,
                visit_id=invoice.visit_id,
                patient_id=invoice.patient_id,
                amount=payment.amount,
                payment_type=payment.payment_type,
                reference=payment.reference,
                processed_by=payment.processed_by,
                paid_total=sums.paid,
                balance=sums.balance,
            ),
            subject=invoice.patient_id,
            visit_id=invoice.visit_id,
        )
        await uow.audit(
            "CREATE",
            "PAYMENT",
            payment.id,
            after=PaymentOut.model_validate(payment),
            details=f"invoice {invoice.id}: {before['balance']} due before, {sums.balance} after",
        )
        if settles(
            ready=invoice.ready_at is not None,
            settled=invoice.settled_at is not None,
            balance=sums.balance,
        ):
            await self._settle(uow, invoice, sums)
        out = PaymentOut.model_validate(payment)
        return PaymentReceipt(**out.model_dump(), invoice=await self.invoice_out(session, invoice))

    async def _settle(self, uow: UnitOfWork, invoice: Invoice, sums: Sums) -> None:
        """Paid in full: ``invoice.settled`` (registration completes the visit) and the PAYMENT
        assignment completed, in the transaction that took the last payment."""
        before = _summary(invoice, sums)
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
            "SETTLE", "INVOICE", invoice.id, before=before, after=_summary(invoice, sums)
        )
        assignment = await self.worklist.active_for_visit(uow.session, invoice.visit_id)
        if assignment is not None:
            await self.worklist.update(
                uow,
                assignment.id,
                expected_version=assignment.version,
                fields={"status": AssignmentStatus.COMPLETED.value},
            )

    async def _audit_state(self, session: AsyncSession, invoice: Invoice) -> dict[str, Any]:
        return _summary(invoice, await self._sums(session, invoice))


async def _lock(session: AsyncSession, visit_id: str) -> Invoice | None:
    return await session.scalar(
        select(Invoice)
        .where(Invoice.visit_id == visit_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )


def _order_id(event: CloudEvent, kind: OrderKind) -> str:
    key = "labRequestId" if kind is OrderKind.LAB_REQUEST else "prescriptionId"
    order_id = event.data.get(key)
    if not order_id:
        raise ValueError(f"{event.type} {event.id} names no {key}")
    return str(order_id)


def _order_state(order: VisitOrder, invoice: Invoice) -> dict[str, Any]:
    return {
        "orderId": order.id,
        "kind": order.kind,
        "visitId": order.visit_id,
        "patientId": invoice.patient_id,
        "status": order.status,
        "version": order.version,
    }


def _when(raw: object, event: CloudEvent) -> dt.datetime:
    """A time from an event's data, else the event's own time."""
    if isinstance(raw, str):
        try:
            return dt.datetime.fromisoformat(raw)
        except ValueError:
            pass
    return event.time
