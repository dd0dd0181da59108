"""Billing rules, free of FastAPI and SQLAlchemy: prices, readiness, invoice state, payments."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
# Numeric(12, 2) in the database: ten digits before the point.
MAX_AMOUNT = Decimal("9999999999.99")


def money(value: Decimal | int | str) -> Decimal:
    """An amount in the currency's smallest unit (cents), as the books keep it."""
    return Decimal(value).quantize(CENT)


# -- the price list ----------------------------------------------------------------------------


class PriceListError(ValueError):
    """The price list file is malformed; the service refuses to start rather than misprice."""


class ChargeKind(StrEnum):
    CONSULTATION = "CONSULTATION"
    LAB_TEST = "LAB_TEST"
    MEDICATION = "MEDICATION"


# How the cashier's notification names each kind ("services": the scenario's words), in the
# order a visit goes through them.
SERVICE_NAMES: dict[ChargeKind, str] = {
    ChargeKind.CONSULTATION: "Consultation",
    ChargeKind.LAB_TEST: "Lab Tests",
    ChargeKind.MEDICATION: "Medication",
}


def services_of(kinds: Iterable[str]) -> list[str]:
    present = set(kinds)
    return [name for kind, name in SERVICE_NAMES.items() if kind.value in present]


@dataclass(frozen=True)
class Price:
    """What an item costs; ``listed`` is False when the price list does not name it."""

    amount: Decimal
    listed: bool = True


@dataclass(frozen=True)
class PriceList:
    """Billing's prices (``deploy/price_list.yaml``): the figures a clinic edits."""

    currency: str
    consultation: Decimal
    lab_tests: dict[str, Decimal]
    medications: dict[str, Decimal]  # by lower-case medication name
    lab_test_default: Decimal | None = None
    medication_default: Decimal | None = None
    source: str = field(default="", compare=False)

    @classmethod
    def from_file(cls, path: Path) -> PriceList:
        try:
            raw = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise PriceListError(f"cannot read the price list {path}: {exc}") from exc
        return cls.from_mapping(raw, source=str(path))

    @classmethod
    def from_mapping(cls, raw: Any, source: str = "") -> PriceList:
        if not isinstance(raw, dict):
            raise PriceListError(f"the price list {source} must be a mapping")

        def amount(value: Any, where: str) -> Decimal:
            try:
                parsed = Decimal(str(value))
            except InvalidOperation as exc:
                raise PriceListError(f"{where}: {value!r} is not an amount") from exc
            if not parsed.is_finite() or parsed < 0 or parsed != parsed.quantize(CENT):
                raise PriceListError(f"{where}: {value!r} must be >= 0 with at most 2 decimals")
            return money(parsed)

        def table(name: str) -> tuple[dict[str, Decimal], Decimal | None]:
            entries = raw.get(name) or {}
            if not isinstance(entries, dict):
                raise PriceListError(f"{name} must map names to prices")
            prices = {str(k): amount(v, f"{name}.{k}") for k, v in entries.items()}
            return prices, prices.pop("default", None)

        if "consultation" not in raw:
            raise PriceListError(f"the price list {source} has no consultation price")
        lab_tests, lab_default = table("labTests")
        medications, medication_default = table("medications")
        return cls(
            currency=str(raw.get("currency") or "KES"),
            consultation=amount(raw["consultation"], "consultation"),
            lab_tests={code.upper(): price for code, price in lab_tests.items()},
            medications={name.lower(): price for name, price in medications.items()},
            lab_test_default=lab_default,
            medication_default=medication_default,
            source=source,
        )

    def consultation_price(self) -> Price:
        return Price(self.consultation)

    def lab_test_price(self, test_type: str) -> Price:
        return self._lookup(self.lab_tests, test_type.upper(), self.lab_test_default)

    def medication_price(self, medication_name: str) -> Price:
        return self._lookup(
            self.medications, medication_name.strip().lower(), self.medication_default
        )

    @staticmethod
    def _lookup(prices: dict[str, Decimal], key: str, default: Decimal | None) -> Price:
        if key in prices:
            return Price(prices[key])
        if default is not None:
            return Price(default)
        # Billing never refuses what a department did: an unpriced item is charged 0.00 and
        # marked, so the cashier sees it and the clinic adds it to the price list.
        return Price(ZERO, listed=False)


# -- the visit's orders and readiness for payment ----------------------------------------------


class OrderKind(StrEnum):
    LAB_REQUEST = "LAB_REQUEST"
    PRESCRIPTION = "PRESCRIPTION"


@dataclass(frozen=True)
class VisitOrder:
    """An order of a visit, as billing follows it."""

    visit_id: str
    patient_id: str
    order_id: str
    kind: OrderKind


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    FULFILLED = "FULFILLED"
    CANCELLED = "CANCELLED"


# Events about one order arrive in any order; the status only moves up this ladder. Work done
# counts even when the cancellation crossed it (the lab ran the test, the patient has the pills).
_ORDER_RANK = {OrderStatus.PENDING: 0, OrderStatus.CANCELLED: 1, OrderStatus.FULFILLED: 2}


def merged_order_status(current: OrderStatus | None, reported: OrderStatus) -> OrderStatus:
    if current is None or _ORDER_RANK[reported] > _ORDER_RANK[current]:
        return reported
    return current


def ready_for_payment(
    *, consultation_completed: bool, order_statuses: Iterable[str], payment_type_known: bool
) -> bool:
    """The patient goes to the till once the doctor is done and no order is still pending.

    ``payment_type_known``: registration's event has arrived, so the till knows how the visit
    is paid (and whom to put on the worklist).
    """
    return (
        consultation_completed
        and payment_type_known
        and all(s != OrderStatus.PENDING for s in order_statuses)
    )


# -- the invoice ---------------------------------------------------------------------------------


class InvoiceStatus(StrEnum):
    OPEN = "OPEN"  # care goes on; charges are still being added
    READY_FOR_PAYMENT = "READY_FOR_PAYMENT"
    PAID = "PAID"


CLOSED_VISIT_STATUSES = frozenset({"COMPLETED", "CANCELLED"})


def invoice_status(*, ready: bool, settled: bool, balance: Decimal) -> InvoiceStatus:
    if settled and balance <= ZERO:
        return InvoiceStatus.PAID
    return InvoiceStatus.READY_FOR_PAYMENT if ready else InvoiceStatus.OPEN


def settles(*, ready: bool, settled: bool, balance: Decimal) -> bool:
    """Paid in full, with every item known: the visit can close."""
    return ready and not settled and balance <= ZERO


# -- payments --------------------------------------------------------------------------------------


class PaymentMethod(StrEnum):
    CASH = "CASH"
    MOBILE_MONEY = "MOBILE_MONEY"  # M-Pesa, Airtel Money: the transaction code is the proof
    INSURANCE = "INSURANCE"  # SHA, a private insurer: the claim or pre-authorisation number
    CARD = "CARD"


class PaymentStatus(StrEnum):
    # Payments are recorded when the money is in hand; pending mobile-money prompts are not
    # payments yet.
    COMPLETED = "COMPLETED"


_MOBILE_MONEY_CODE = re.compile(r"^[A-Z0-9]{8,20}$")  # M-Pesa: 10 letters and digits


def check_amount(amount: Decimal) -> Decimal:
    """A payment amount as the till takes it; raises ValueError naming the rule."""
    if not amount.is_finite():
        raise ValueError("must be a number")
    if amount <= 0:
        raise ValueError("must be more than 0")
    if amount > MAX_AMOUNT:  # before quantize: a huge amount cannot be quantized at all
        raise ValueError(f"must be at most {MAX_AMOUNT}")
    if amount != amount.quantize(CENT):
        raise ValueError("may have at most 2 decimals (cents)")
    return money(amount)


def payment_detail_errors(
    method: PaymentMethod, reference: str | None, payer: str | None
) -> list[tuple[str, str]]:
    """What a payment of ``method`` must carry so the books can be reconciled later."""
    errors: list[tuple[str, str]] = []
    if method is PaymentMethod.MOBILE_MONEY:
        if not reference:
            errors.append(("reference", "required for MOBILE_MONEY: the transaction code"))
        elif not _MOBILE_MONEY_CODE.match(reference):
            errors.append(
                ("reference", "a mobile money code is 8 to 20 letters and digits, e.g. QGH7XK2L9P")
            )
    if method is PaymentMethod.INSURANCE:
        if not reference:
            errors.append(("reference", "required for INSURANCE: the claim or pre-authorisation"))
        if not payer:
            errors.append(("payer", "required for INSURANCE: the insurer, e.g. SHA"))
    if payer and method is not PaymentMethod.INSURANCE:
        errors.append(("payer", "only an INSURANCE payment names a payer"))
    return errors


def check_processor(named: str | None, caller: str) -> None:
    """The record says who took the money: the signed-in cashier, never someone named."""
    if named is not None and named != caller:
        raise ValueError(f"must be you ({caller}): a cashier records only their own payments")


def payment_refusal(*, status: InvoiceStatus, visit_status: str | None) -> str | None:
    """Why no payment can be taken on this invoice now (a 409), or None."""
    if status is InvoiceStatus.PAID:
        return "the invoice is already paid in full"
    if visit_status in CLOSED_VISIT_STATUSES:
        return f"the visit is {visit_status}: it takes no more payments"
    return None


def overpayment(amount: Decimal, balance: Decimal) -> str | None:
    if amount > balance:
        return f"{amount} is more than the balance due ({balance})"
    return None
