"""Billing's request and response models (camelCase on the wire).

Amounts are JSON numbers with at most two decimals, as the scenario writes them
(``totalAmount: 500.00``); in code they are ``Decimal``, never floats.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import Field, field_validator

from billing.domain import (
    ChargeKind,
    InvoiceStatus,
    PaymentMethod,
    PaymentStatus,
    check_amount,
)
from kliniki.contracts.billing import Money
from kliniki.schemas import ApiModel, ClinicalText, StrictApiModel


class ChargeOut(ApiModel):
    id: str
    visit_id: str
    patient_id: str
    kind: ChargeKind
    code: ClinicalText = None
    description: ClinicalText = None
    amount: Money
    currency: str
    priced: bool = Field(description="False: not in the price list, charged 0.00 for now.")
    created_at: dt.datetime


class PaymentOut(ApiModel):
    id: str
    visit_id: str
    patient_id: str
    amount: Money
    currency: str
    payment_type: PaymentMethod
    reference: str | None
    payer: str | None
    status: PaymentStatus
    processed_by: str
    processed_by_name: str | None
    processed_at: dt.datetime


class InvoiceOut(ApiModel):
    id: str
    visit_id: str
    patient_id: str
    patient_name: str | None
    op_number: str | None
    status: InvoiceStatus
    payment_type: str | None = Field(description="How the visit is paid, from registration.")
    currency: str
    items: list[ChargeOut]
    payments: list[PaymentOut]
    services: list[str]
    total: Money = Field(description="The sum of the items.")
    paid: Money = Field(description="The sum of the payments.")
    balance: Money
    pending_orders: int = Field(description="Lab requests and prescriptions not yet done.")
    ready_at: dt.datetime | None
    settled_at: dt.datetime | None
    settled_by: str | None
    version: int


class PaymentReceipt(PaymentOut):
    """processPayment's answer: the payment and the invoice as it now stands."""

    invoice: InvoiceOut


class PaymentCreate(StrictApiModel):
    """processPayment, as the scenario sends it; a payment records money already received."""

    amount: Decimal = Field(description="More than 0, at most 2 decimals, at most the balance.")
    payment_type: PaymentMethod
    reference: str | None = Field(
        default=None,
        max_length=64,
        description="MOBILE_MONEY: the transaction code (M-Pesa); INSURANCE: the claim or "
        "pre-authorisation number; CARD or CASH: a receipt or authorisation number, if any.",
    )
    payer: str | None = Field(
        default=None, max_length=100, description="INSURANCE only: the insurer, e.g. SHA."
    )
    status: Literal["COMPLETED"] = "COMPLETED"
    processed_by: str | None = Field(
        default=None, max_length=64, description="If given, must be you: you are recorded."
    )

    @field_validator("amount")
    @classmethod
    def _amount(cls, value: Decimal) -> Decimal:
        return check_amount(value)

    @field_validator("payment_type", "status", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value
