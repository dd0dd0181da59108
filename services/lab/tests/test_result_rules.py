"""The lab's rules, no servers: reading values as written, flagging them, the catalogue."""

from __future__ import annotations

import pytest

from kliniki.settings import ServiceSettings
from lab.domain import (
    Catalogue,
    CatalogueError,
    Flag,
    check_status_change,
    reported_urgency,
)

CATALOGUE = Catalogue.from_file(ServiceSettings(service_name="lab").lab_catalogue_file)
CARDIAC = CATALOGUE.tests["CARDIAC_ENZYMES"]


def test_the_scenarios_results_are_read_as_written_and_flagged() -> None:
    readings, errors = CARDIAC.read_results(
        {"troponinI": "2.5 ng/mL", "ckMB": "45 U/L", "myoglobin": "180 ng/mL"}
    )
    assert errors == []
    troponin = readings["troponinI"]
    assert (troponin.value, troponin.unit, troponin.text) == (2.5, "ng/mL", "2.5 ng/mL")
    assert troponin.flag is Flag.CRITICAL_HIGH and troponin.critical and troponin.abnormal
    assert readings["ckMB"].flag is Flag.HIGH and not readings["ckMB"].critical
    assert readings["myoglobin"].flag is Flag.HIGH
    assert CARDIAC.missing(readings) == []


@pytest.mark.parametrize(
    ("raw", "value"),
    [
        (0.02, 0.02),  # a bare number is in the analyte's unit
        ({"value": 0.02, "unit": "ng/mL"}, 0.02),
        ({"value": 0.02}, 0.02),
        ("0.02 ng/ml", 0.02),  # unit case as typed
        ("0,02 ng/mL", 0.02),  # decimal comma
    ],
)
def test_structured_and_typed_values_are_the_same_number(raw: object, value: float) -> None:
    readings, errors = CARDIAC.read_results({"troponinI": raw})
    assert errors == []
    assert readings["troponinI"].value == value
    assert readings["troponinI"].flag is Flag.NORMAL


@pytest.mark.parametrize(
    ("results", "field", "words"),
    [
        ({"troponinT": "1 ng/mL"}, "results.troponinT", "no analyte"),
        ({"troponinI": "2.5 mg/dL"}, "results.troponinI", "ng/mL"),
        ({"troponinI": "high"}, "results.troponinI", "not a number"),
        ({"troponinI": "-0.1 ng/mL"}, "results.troponinI", "negative"),
        ({"troponinI": True}, "results.troponinI", "number"),
        ({"troponinI": float("nan")}, "results.troponinI", "finite"),
        ({"troponinI": ["2.5"]}, "results.troponinI", "number"),
    ],
)
def test_values_that_are_not_results_are_refused_naming_the_analyte(
    results: dict, field: str, words: str
) -> None:
    readings, errors = CARDIAC.read_results(results)
    assert readings == {}
    assert [f for f, _ in errors] == [field]
    assert words in errors[0][1]


def test_every_refused_value_is_reported_at_once() -> None:
    _, errors = CARDIAC.read_results({"troponinI": "x", "ckMB": "-3 U/L", "myoglobin": "50"})
    assert [f for f, _ in errors] == ["results.troponinI", "results.ckMB"]


@pytest.mark.parametrize(
    ("haemoglobin", "flag"),
    [
        (6.5, Flag.CRITICAL_LOW),
        (7.0, Flag.LOW),  # on the critical limit: low, not critical
        (11.9, Flag.LOW),
        (12.0, Flag.NORMAL),  # on the reference limit: within it
        (17.5, Flag.NORMAL),
        (18.0, Flag.HIGH),
        (21.0, Flag.CRITICAL_HIGH),
    ],
)
def test_flags_follow_the_reference_and_critical_ranges(haemoglobin: float, flag: Flag) -> None:
    analyte = CATALOGUE.tests["FULL_BLOOD_COUNT"].analytes["haemoglobin"]
    assert analyte.flag(haemoglobin) is flag


def test_cell_counts_are_read_with_their_unit_written_the_usual_ways() -> None:
    fbc = CATALOGUE.tests["FULL_BLOOD_COUNT"]
    for written in ("5.2 10^9/L", "5.2 x10^9/L", "5.2x10^9/L"):
        readings, errors = fbc.read_results({"wbc": written})
        assert errors == [], written
        assert (readings["wbc"].value, readings["wbc"].unit) == (5.2, "10^9/L")


def test_a_qualitative_result_is_abnormal_when_not_the_normal_answer() -> None:
    malaria = CATALOGUE.tests["MALARIA_RDT"]
    readings, _ = malaria.read_results({"plasmodium": "positive"})
    positive = readings["plasmodium"]
    assert (positive.value, positive.unit, positive.flag) == ("POSITIVE", None, Flag.ABNORMAL)
    readings, _ = malaria.read_results({"plasmodium": {"value": "NEGATIVE"}})
    assert readings["plasmodium"].flag is Flag.NORMAL
    _, errors = malaria.read_results({"plasmodium": "maybe"})
    assert errors and "NEGATIVE, POSITIVE" in errors[0][1]


def test_completing_needs_every_analyte_of_the_test() -> None:
    assert CARDIAC.missing(["troponinI"]) == ["ckMB", "myoglobin"]


def test_results_are_urgent_when_ordered_urgent_or_critical() -> None:
    assert reported_urgency("NORMAL", critical=True) == "URGENT"
    assert reported_urgency("URGENT", critical=False) == "URGENT"
    assert reported_urgency("NORMAL", critical=False) == "NORMAL"


@pytest.mark.parametrize("status", ["COMPLETED", "CANCELLED"])
def test_a_finished_request_does_not_change(status: str) -> None:
    with pytest.raises(ValueError, match=status):
        check_status_change(status, "COMPLETED")


def test_a_malformed_catalogue_is_refused_at_load() -> None:
    with pytest.raises(CatalogueError, match="unit"):
        Catalogue.from_mapping({"tests": {"X": {"analytes": {"a": {"low": 1}}}}})
    with pytest.raises(CatalogueError, match="normal"):
        Catalogue.from_mapping(
            {"tests": {"X": {"analytes": {"a": {"qualitative": ["A", "B"], "normal": "C"}}}}}
        )
