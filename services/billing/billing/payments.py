"""The till: money received for a visit, its receipt, and settlement at a zero balance."""

from __future__ import annotations

from billing import events
from billing.domain import (
    PaymentMethod,
    check_processor,
    overpayment,
    payment_detail_errors,
    payment_refusal,
    settles,
)
from billing.invoice import Invoices, Sums, lock, status_of, summary, sums_of
from billing.models import Payment
from billing.schemas import PaymentCreate, PaymentOut, PaymentReceipt
from kliniki.auth import Principal
from kliniki.db import utcnow
from kliniki.problems import Conflict, InvalidInput, NotFound
from kliniki.uow import UnitOfWork


async def take_payment(
    invoices: Invoices, uow: UnitOfWork, cashier: Principal, visit_id: str, body: PaymentCreate
) -> PaymentReceipt:
    """processPayment: money received for the visit; at a zero balance the visit closes."""
    session = uow.session
    invoice = await lock(session, visit_id)
    if invoice is None:
        raise NotFound(f"billing has no invoice for visit {visit_id} (no event about it yet)")
    sums = await sums_of(session, invoice)
    before = summary(invoice, sums)
    refusal = payment_refusal(status=status_of(invoice, sums), visit_status=invoice.visit_status)
    if refusal is not None:
        current = await invoices.out(session, invoice)
        raise Conflict(
            refusal, current=current.model_dump(mode="json", by_alias=True), record="INVOICE"
        )
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
        await invoices.settle(uow, invoice, sums)
    out = PaymentOut.model_validate(payment)
    return PaymentReceipt(**out.model_dump(), invoice=await invoices.out(session, invoice))
