"""The visit as FHIR R4B (issue 14, item 2): John Doe's finished visit exports a Bundle that
fhir.resources accepts, with the codes another system needs, every reference resolving inside
it; an unfinished visit exports what exists so far; the cashier is refused."""

from __future__ import annotations

import contextlib
from typing import Any

from fhir.resources.R4B.bundle import Bundle

from tests.support.journey import Journey
from tests.support.live import StaffSocket
from tests.support.scenario_run import STAFF, run_visit
from tests.support.stack import Stack, auth
from tests.support.waiting import eventually


def codes(resource: dict[str, Any]) -> set[tuple[str, str]]:
    found = {(c["system"], c["code"]) for c in resource.get("code", {}).get("coding", [])}
    for component in resource.get("component", []):
        found |= {(c["system"], c["code"]) for c in component["code"]["coding"]}
    return found


def of_type(bundle: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == kind]


def references(value: Any) -> list[str]:
    if isinstance(value, dict):
        here = [value["reference"]] if isinstance(value.get("reference"), str) else []
        return here + [r for v in value.values() for r in references(v)]
    if isinstance(value, list):
        return [r for v in value for r in references(v)]
    return []


async def export(http, stack: Stack, visit_id: str, user: str = "dr_smith") -> dict[str, Any]:
    response = await http.get(f"{stack.url('clinical')}/visits/{visit_id}/fhir", headers=auth(user))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/fhir+json")
    bundle = response.json()
    Bundle.model_validate(bundle)  # FHIR R4B, as another system will read it
    return bundle


async def test_john_does_finished_visit_is_a_valid_bundle_with_its_codes(
    stack: Stack, http
) -> None:
    urls = {s: stack.url(s) for s in stack.processes}
    async with contextlib.AsyncExitStack() as sockets:
        staff = {
            user: await sockets.enter_async_context(StaffSocket(stack.ws_url(user), user))
            for user in STAFF
        }
        run = await run_visit(http, urls, staff)
    journey = run.journey

    async def exported() -> dict[str, Any]:
        return await export(http, stack, journey.visit_id)

    bundle = await eventually(
        exported,
        lambda b: of_type(b, "Appointment") and of_type(b, "Encounter")[0]["status"] == "finished",
    )
    assert bundle["type"] == "collection"
    [patient] = of_type(bundle, "Patient")
    assert patient["identifier"][0]["value"] == journey.patient["opNumber"]
    assert patient["telecom"][0]["value"] == "+254712345678"
    [encounter] = of_type(bundle, "Encounter")
    assert encounter["class"]["code"] == "AMB"
    assert encounter["period"]["start"] and encounter["period"]["end"]
    assert encounter["priority"]["coding"][0]["code"] == "URGENT"

    observed = set().union(*(codes(o) for o in of_type(bundle, "Observation")))
    loinc = {code for system, code in observed if system == "http://loinc.org"}
    assert {"85354-9", "8480-6", "8462-4", "8310-5", "8867-4", "9279-1", "10839-9"} <= loinc
    [troponin] = [
        o for o in of_type(bundle, "Observation") if ("http://loinc.org", "10839-9") in codes(o)
    ]
    assert troponin["valueQuantity"] == {
        "value": 2.5,
        "unit": "ng/mL",
        "system": "http://unitsofmeasure.org",
        "code": "ng/mL",
    }
    assert troponin["interpretation"][0]["coding"][0]["code"] == "HH"  # critical high
    [temperature] = [
        o for o in of_type(bundle, "Observation") if ("http://loinc.org", "8310-5") in codes(o)
    ]
    assert (temperature["valueQuantity"]["value"], temperature["valueQuantity"]["code"]) == (
        38.5,
        "Cel",
    )

    [condition] = of_type(bundle, "Condition")
    assert condition["code"]["coding"][0] == {
        "system": "http://hl7.org/fhir/sid/icd-10",
        "code": "I21.9",
        "display": condition["code"]["coding"][0]["display"],
    }
    for kind in ("MedicationRequest", "MedicationDispense", "ServiceRequest", "DiagnosticReport"):
        assert of_type(bundle, kind), kind
    [report] = of_type(bundle, "DiagnosticReport")
    assert len(report["result"]) == 3

    # Every reference resolves inside the bundle.
    present = {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    assert set(references(bundle["entry"])) <= present


async def test_an_unfinished_visit_exports_what_exists_and_the_cashier_is_refused(
    stack: Stack, http
) -> None:
    journey = Journey(http, {s: stack.url(s) for s in stack.processes})
    await journey.register()
    await journey.triage()

    async def exported() -> dict[str, Any]:
        return await export(http, stack, journey.visit_id, "nurse_sarah")

    bundle = await eventually(exported, lambda b: len(of_type(b, "Observation")) == 4)
    kinds = {e["resource"]["resourceType"] for e in bundle["entry"]}
    assert kinds == {"Patient", "Encounter", "Observation"}
    assert of_type(bundle, "Encounter")[0]["status"] == "in-progress"
    assert "end" not in of_type(bundle, "Encounter")[0]["period"]

    refused = await http.get(
        f"{stack.url('clinical')}/visits/{journey.visit_id}/fhir", headers=auth("tom_cashier")
    )
    assert refused.status_code == 403
    unknown = await http.get(
        f"{stack.url('clinical')}/visits/visit_unknown/fhir", headers=auth("dr_smith")
    )
    assert unknown.status_code == 404
