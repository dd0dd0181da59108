"""ICD-10 search as the clinician types: by code prefix, else by the words of the title."""

from __future__ import annotations

from clinical.domain import search_icd10


def test_search_by_code_prefix_and_by_words() -> None:
    assert ("I21.9", "Acute myocardial infarction, unspecified") in search_icd10("I21")
    assert search_icd10("i219")[0][0] == "I21.9"
    assert all(code.startswith("I21") for code, _ in search_icd10("I21"))
    found = dict(search_icd10("myocardial infarction acute", limit=50))
    assert "I21.9" in found
    assert search_icd10("   ") == []
    assert search_icd10("no such words at all") == []
