"""Plain rules, no servers: worklist assignment, registration validation, the event envelope."""

from __future__ import annotations

import datetime as dt

import pytest

from kliniki.events import CloudEvent
from kliniki.problems import Conflict, InvalidInput
from kliniki.worklist.domain import Candidate, Change, classify_change, pick_assignee
from registration.domain import age_on, check_date_of_birth, normalize_person_name, normalize_phone


def test_a_new_assignment_goes_to_the_least_busy_on_duty() -> None:
    staff = [
        Candidate("nurse_b", "B", 3),
        Candidate("nurse_a", "A", 1),
        Candidate("nurse_c", "C", 1),
    ]
    assert pick_assignee(staff).user_id == "nurse_a"  # fewest, ties by id
    assert pick_assignee([]) is None  # nobody on duty: the shared queue


@pytest.mark.parametrize(
    ("status", "assignee", "given", "expected"),
    [
        ("COMPLETED", None, False, Change.COMPLETED),
        (None, "nurse_sarah", True, Change.CLAIMED),
        (None, "nurse_joy", True, Change.TRANSFERRED),
        (None, None, True, Change.RETURNED_TO_QUEUE),
        (None, None, False, Change.REPRIORITIZED),
    ],
)
def test_what_an_assignment_update_means(status, assignee, given, expected) -> None:
    assert classify_change("ACTIVE", "someone", "nurse_sarah", status, assignee, given) is expected


def test_a_finished_assignment_cannot_change() -> None:
    with pytest.raises(Conflict):
        classify_change("COMPLETED", "nurse_sarah", "nurse_sarah", "CANCELLED", None, False)
    with pytest.raises(InvalidInput):
        classify_change("ACTIVE", "nurse_sarah", "nurse_sarah", None, "nurse_sarah", True)


@pytest.mark.parametrize(
    ("raw", "e164"),
    [
        ("+254712345678", "+254712345678"),
        ("0712345678", "+254712345678"),
        ("0712 345 678", "+254712345678"),
        ("+44 20 7946 0958", "+442079460958"),
    ],
)
def test_phone_numbers_become_e164_with_kenya_as_default(raw: str, e164: str) -> None:
    assert normalize_phone(raw) == e164


@pytest.mark.parametrize("raw", ["12", "0712-CALL-ME", "+254 000", "phone"])
def test_impossible_phone_numbers_are_refused(raw: str) -> None:
    with pytest.raises(ValueError):
        normalize_phone(raw)


def test_names_keep_letters_of_any_script_and_refuse_digits() -> None:
    assert normalize_person_name("  Wanjiru   Mũthoni ") == "Wanjiru Mũthoni"
    assert normalize_person_name("O'Neil-Achieng") == "O'Neil-Achieng"
    for bad in ("J0hn", "", "   ", "Robert'); DROP TABLE"):
        with pytest.raises(ValueError):
            normalize_person_name(bad)


def test_age_comes_from_the_date_of_birth() -> None:
    assert age_on(dt.date(1990, 6, 15), dt.date(2026, 6, 14)) == 35
    assert age_on(dt.date(1990, 6, 15), dt.date(2026, 6, 15)) == 36
    with pytest.raises(ValueError):
        check_date_of_birth(dt.date(2999, 1, 1), dt.date(2026, 1, 1))


def test_the_envelope_carries_its_version_in_the_type_and_ignores_unknown_fields() -> None:
    event = CloudEvent.model_validate(
        {
            "source": "/services/registration",
            "type": "patient.registered.v2",
            "data": {},
            "somefutureextension": "x",
        }
    )
    assert (event.routing_key, event.data_version) == ("patient.registered", 2)
    assert event.specversion == "1.0" and event.id


def test_the_report_counts_under_fives_apart_and_interpolates_percentiles() -> None:
    from registration.domain import age_band, percentile

    assert [age_band(a) for a in (0, 4, 5, 80, None)] == [
        "under5",
        "under5",
        "5andOver",
        "5andOver",
        "unknown",
    ]
    assert percentile([], 0.5) is None
    assert percentile([7.0], 0.9) == 7.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 0.5) == 2.5
    assert percentile([10.0, 1.0, 5.0], 0.9) == 9.0
