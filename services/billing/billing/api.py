"""Billing's HTTP routes (the PAYMENT worklist's come from the shared kernel)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from billing.schemas import InvoiceOut, PaymentCreate, PaymentReceipt
from billing.service import Billing
from kliniki.access import Permission
from kliniki.auth import Principal
from kliniki.web import UoW, answer, idempotent_create, require

InvoiceReader = Annotated[Principal, Depends(require(Permission.INVOICE_READ))]
Cashier = Annotated[Principal, Depends(require(Permission.PAYMENT_TAKE))]


def billing_router(billing: Billing) -> APIRouter:
    router = APIRouter(tags=["billing"])

    @router.get("/visits/{visit_id}/invoice", response_model=InvoiceOut)
    async def read_invoice(visit_id: str, principal: InvoiceReader, uow: UoW) -> JSONResponse:
        """The visit's charges, payments, total, paid and balance. A line names the medicine
        or test only to clinical readers; the desk and the till see its kind and amount."""
        return answer(principal, "INVOICE", await billing.read_invoice(uow.session, visit_id))

    @router.post(
        "/visits/{visit_id}/payments",
        response_model=PaymentReceipt,
        status_code=201,
        summary="processPayment: record money received for the visit",
    )
    async def take_payment(
        visit_id: str, body: PaymentCreate, principal: Cashier, uow: UoW, request: Request
    ) -> JSONResponse:
        """Refused: 422 for an amount over the balance, 409 once the invoice is paid or the
        visit closed. A repeated ``Idempotency-Key`` returns the first answer, pays nothing."""
        return await idempotent_create(
            request,
            uow,
            lambda: billing.take_payment(uow, principal, visit_id, body),
            kind="PAYMENT",
        )

    return router
