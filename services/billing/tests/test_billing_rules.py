"""Billing's rules, no servers: the price list, readiness, order news, amounts, payment details."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billing.domain import (
    InvoiceStatus,
    OrderStatus,
    PaymentMethod,
    PriceList,
    PriceListError,
    check_amount,
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
from kliniki.settings import ServiceSettings

PRICES = PriceList.from_file(ServiceSettings(service_name="billing").price_list_file)


def test_the_price_list_makes_the_scenarios_visit_500() -> None:
    total = (
        PRICES.consultation_price().amount
        + PRICES.lab_test_price("CARDIAC_ENZYMES").amount
        + PRICES.medication_price("Aspirin").amount
    )
    assert total == Decimal("500.00")
    assert PRICES.currency == "KES"


def test_medication_names_match_without_case_and_unlisted_ones_cost_the_default() -> None:
    assert PRICES.medication_price("  ASPIRIN ").amount == Decimal("100.00")
    assert PRICES.medication_price("Paracetamol").amount == Decimal("50.00")
    unlisted = PRICES.medication_price("Clopidogrel")
    assert (unlisted.amount, unlisted.listed) == (Decimal("100.00"), True)


def test_an_unpriced_lab_test_is_charged_nothing_and_marked_not_refused() -> None:
    price = PRICES.lab_test_price("LIPID_PROFILE")
    assert (price.amount, price.listed) == (Decimal("0.00"), False)


@pytest.mark.parametrize(
    "raw",
    [
        {"labTests": {}},  # no consultation price
        {"consultation": -1},
        {"consultation": "two hundred"},
        {"consultation": 200.001},
        {"consultation": 200, "labTests": ["CARDIAC_ENZYMES"]},
        ["not", "a", "mapping"],
    ],
)
def test_a_malformed_price_list_is_refused(raw: object) -> None:
    with pytest.raises(PriceListError):
        PriceList.from_mapping(raw)


def test_order_news_only_moves_forward_and_work_done_wins() -> None:
    pending, cancelled, fulfilled = (
        OrderStatus.PENDING,
        OrderStatus.CANCELLED,
        OrderStatus.FULFILLED,
    )
    assert merged_order_status(None, pending) is pending
    assert merged_order_status(pending, fulfilled) is fulfilled
    assert merged_order_status(fulfilled, pending) is fulfilled  # created arrived late
    assert merged_order_status(cancelled, pending) is cancelled
    assert merged_order_status(cancelled, fulfilled) is fulfilled  # the lab ran it anyway
    assert merged_order_status(fulfilled, cancelled) is fulfilled


def test_ready_once_the_consultation_is_done_and_no_order_is_pending() -> None:
    def ready(consulted: bool, orders: list[str], known: bool = True) -> bool:
        return ready_for_payment(
            consultation_completed=consulted, order_statuses=orders, payment_type_known=known
        )

    assert ready(True, [])
    assert ready(True, ["FULFILLED", "CANCELLED"])
    assert not ready(True, ["FULFILLED", "PENDING"])
    assert not ready(False, ["FULFILLED"])
    assert not ready(True, ["FULFILLED"], known=False)


def test_the_services_are_named_as_the_scenario_names_them_in_visit_order() -> None:
    kinds = ["MEDICATION", "CONSULTATION", "LAB_TEST", "LAB_TEST"]
    assert services_of(kinds) == ["Consultation", "Lab Tests", "Medication"]


def test_invoice_status_and_settlement() -> None:
    zero, due = Decimal("0.00"), Decimal("100.00")
    assert invoice_status(ready=False, settled=False, balance=due) is InvoiceStatus.OPEN
    assert invoice_status(ready=True, settled=False, balance=due) is InvoiceStatus.READY_FOR_PAYMENT
    assert invoice_status(ready=True, settled=True, balance=zero) is InvoiceStatus.PAID
    assert settles(ready=True, settled=False, balance=zero)
    assert not settles(ready=False, settled=False, balance=zero)  # care still going on
    assert not settles(ready=True, settled=True, balance=zero)  # once
    assert payment_refusal(status=InvoiceStatus.PAID, visit_status="WAITING_PAYMENT")
    assert payment_refusal(status=InvoiceStatus.OPEN, visit_status="CANCELLED")
    assert (
        payment_refusal(status=InvoiceStatus.READY_FOR_PAYMENT, visit_status="WAITING_PAYMENT")
        is None
    )


@pytest.mark.parametrize(
    ("amount", "rule"),
    [
        ("0", "more than 0"),
        ("-5", "more than 0"),
        ("100.005", "2 decimals"),
        ("1E+20", "at most"),
    ],
)
def test_amounts_the_till_refuses(amount: str, rule: str) -> None:
    with pytest.raises(ValueError, match=rule):
        check_amount(Decimal(amount))


def test_amounts_are_kept_in_cents() -> None:
    assert check_amount(Decimal("500")) == Decimal("500.00")
    assert check_amount(Decimal("0.5")) == Decimal("0.50")
    assert overpayment(Decimal("500.01"), Decimal("500.00"))
    assert overpayment(Decimal("500.00"), Decimal("500.00")) is None


def test_what_each_payment_type_must_carry() -> None:
    assert payment_detail_errors(PaymentMethod.CASH, None, None) == []
    assert payment_detail_errors(PaymentMethod.CARD, None, None) == []
    assert payment_detail_errors(PaymentMethod.MOBILE_MONEY, "QGH7XK2L9P", None) == []
    assert [f for f, _ in payment_detail_errors(PaymentMethod.MOBILE_MONEY, None, None)] == [
        "reference"
    ]
    assert payment_detail_errors(PaymentMethod.MOBILE_MONEY, "QG-7", None)
    assert [f for f, _ in payment_detail_errors(PaymentMethod.INSURANCE, None, None)] == [
        "reference",
        "payer",
    ]
    assert payment_detail_errors(PaymentMethod.INSURANCE, "SHA-CLM-0042", "SHA") == []
    assert [f for f, _ in payment_detail_errors(PaymentMethod.CASH, None, "SHA")] == ["payer"]


def test_a_cashier_records_only_their_own_payments() -> None:
    check_processor(None, "tom_cashier")
    check_processor("tom_cashier", "tom_cashier")
    with pytest.raises(ValueError, match="must be you"):
        check_processor("alice_receptionist", "tom_cashier")
