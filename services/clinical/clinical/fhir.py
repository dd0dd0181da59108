"""A visit as a FHIR R4B Bundle of type collection (``GET /visits/{visitId}/fhir``).

Everything comes from clinical's own tables (what the other departments told it through their
events): the patient and visit from registration, vital signs from triage, lab results from the
lab, dispensing from pharmacy. Codes: LOINC for vital signs and lab analytes, UCUM for units,
ICD-10 for diagnoses. The bundle is validated with fhir.resources before it leaves.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from fhir.resources.R4B.bundle import Bundle

# Entries' fullUrl: absolute, so that "Patient/<id>" references resolve inside the bundle.
FHIR_BASE = "https://kliniki.dev/fhir"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
ICD10 = "http://hl7.org/fhir/sid/icd-10"
OP_NUMBER = "https://kliniki.dev/fhir/op-number"
TRIAGE_CATEGORY = "https://kliniki.dev/fhir/triage-category"
LAB_TEST = "https://kliniki.dev/fhir/lab-test"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
OBSERVATION_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"

# Vital signs as triage records them (camelCase keys) -> LOINC code, display, UCUM unit.
VITAL_SIGNS: dict[str, tuple[str, str, str]] = {
    "temperature": ("8310-5", "Body temperature", "Cel"),
    "pulse": ("8867-4", "Heart rate", "/min"),
    "respiratoryRate": ("9279-1", "Respiratory rate", "/min"),
    "oxygenSaturation": ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", "%"),
    "weight": ("29463-7", "Body weight", "kg"),
}
# Lab analytes of deploy/lab_catalogue.yaml with a LOINC code (others carry the name only).
ANALYTE_LOINC: dict[str, tuple[str, str]] = {
    "troponinI": ("10839-9", "Troponin I.cardiac [Mass/volume] in Serum or Plasma"),
    "ckMB": ("13969-1", "Creatine kinase.MB [Mass/volume] in Serum or Plasma"),
    "myoglobin": ("2639-8", "Myoglobin [Mass/volume] in Serum or Plasma"),
    "haemoglobin": ("718-7", "Hemoglobin [Mass/volume] in Blood"),
    "wbc": ("6690-2", "Leukocytes [#/volume] in Blood by Automated count"),
    "platelets": ("777-3", "Platelets [#/volume] in Blood by Automated count"),
}
# Units as staff write them -> UCUM.
UCUM_UNITS = {"°C": "Cel", "C": "Cel", "bpm": "/min", "/min": "/min", "mmHg": "mm[Hg]"}
INTERPRETATIONS = {
    "NORMAL": ("N", "Normal"),
    "LOW": ("L", "Low"),
    "HIGH": ("H", "High"),
    "CRITICAL_LOW": ("LL", "Critical low"),
    "CRITICAL_HIGH": ("HH", "Critical high"),
    "ABNORMAL": ("A", "Abnormal"),
}
ORDER_STATUS = {"ACTIVE": "active", "DISPENSED": "completed", "CANCELLED": "revoked"}
LAB_STATUS = {"REQUESTED": "active", "IN_PROGRESS": "active", "COMPLETED": "completed"}
LAB_PRIORITY = {"URGENT": "urgent", "STAT": "stat", "ROUTINE": "routine", "NORMAL": "routine"}


@dataclass(frozen=True)
class VisitParts:
    """What clinical holds of one visit (rows as plain dicts, snake_case)."""

    patient: dict[str, Any]
    visit: dict[str, Any]
    findings: dict[str, Any] | None
    diagnoses: list[dict[str, Any]]
    prescriptions: list[dict[str, Any]]
    lab_requests: list[dict[str, Any]]
    follow_ups: list[dict[str, Any]]


def _iso(value: dt.datetime | dt.date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _fid(record_id: str) -> str:
    """A FHIR id ([A-Za-z0-9-.]): Kliniki's ids with '-' for '_'."""
    return record_id.replace("_", "-")


def _ref(kind: str, record_id: str) -> dict[str, str]:
    return {"reference": f"{kind}/{_fid(record_id)}"}


def _quantity(value: float, unit: str) -> dict[str, Any]:
    code = UCUM_UNITS.get(unit, unit)
    return {"value": value, "unit": unit, "system": UCUM, "code": code}


def _patient(p: dict[str, Any], phone: str | None) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Patient",
        "id": p["patient_id"],
        "identifier": [{"system": OP_NUMBER, "value": p["op_number"]}],
        "name": [{"family": p["last_name"], "given": [p["first_name"]]}],
    }
    if p.get("gender"):
        resource["gender"] = str(p["gender"]).lower()
    if phone:
        resource["telecom"] = [{"system": "phone", "value": phone, "use": "mobile"}]
    return resource


def _encounter(parts: VisitParts) -> dict[str, Any]:
    visit, findings = parts.visit, parts.findings or {}
    resource: dict[str, Any] = {
        "resourceType": "Encounter",
        "id": visit["visit_id"],
        "status": "finished" if visit.get("status") == "COMPLETED" else "in-progress",
        "class": {"system": ACT_CODE, "code": "AMB", "display": "ambulatory"},
        "subject": _ref("Patient", parts.patient["patient_id"]),
        "period": {
            k: v
            for k, v in (
                ("start", _iso(visit.get("opened_at"))),
                ("end", _iso(visit.get("completed_at"))),
            )
            if v
        },
    }
    if findings.get("triage_category"):
        category = findings["triage_category"]
        resource["priority"] = {
            "coding": [{"system": TRIAGE_CATEGORY, "code": category}],
            "text": f"triage: {category}",
        }
    if findings.get("chief_complaint"):
        resource["reasonCode"] = [{"text": findings["chief_complaint"]}]
    return resource


def _vital_observations(parts: VisitParts, when: str | None) -> list[dict[str, Any]]:
    vitals = (parts.findings or {}).get("vital_signs") or {}
    common = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "subject": _ref("Patient", parts.patient["patient_id"]),
        "encounter": _ref("Encounter", parts.visit["visit_id"]),
        **({"effectiveDateTime": when} if when else {}),
    }
    out: list[dict[str, Any]] = []
    bp = vitals.get("bloodPressure")
    if bp:
        out.append(
            {
                **common,
                "id": f"{parts.visit['visit_id']}-bp",
                "code": {
                    "coding": [
                        {"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}
                    ]
                },
                "component": [
                    {
                        "code": {"coding": [{"system": LOINC, "code": code, "display": name}]},
                        "valueQuantity": _quantity(bp[key], "mmHg"),
                    }
                    for key, code, name in (
                        ("systolic", "8480-6", "Systolic blood pressure"),
                        ("diastolic", "8462-4", "Diastolic blood pressure"),
                    )
                ],
            }
        )
    for key, (code, name, ucum) in VITAL_SIGNS.items():
        measured = vitals.get(key)
        if not measured:
            continue
        out.append(
            {
                **common,
                "id": f"{parts.visit['visit_id']}-{key}",
                "code": {"coding": [{"system": LOINC, "code": code, "display": name}]},
                "valueQuantity": {**_quantity(measured["value"], measured["unit"]), "code": ucum},
            }
        )
    return out


def _condition(d: dict[str, Any], patient: str, visit: str) -> dict[str, Any]:
    return {
        "resourceType": "Condition",
        "id": d["id"],
        "clinicalStatus": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                    "code": "resolved" if d["status"] == "RESOLVED" else "active",
                }
            ]
        },
        "code": {
            "coding": [
                {"system": ICD10, "code": d["diagnosis_code"], "display": d["diagnosis_name"]}
            ],
            "text": d["diagnosis_name"],
        },
        "subject": _ref("Patient", patient),
        "encounter": _ref("Encounter", visit),
        **({"note": [{"text": d["notes"]}]} if d.get("notes") else {}),
    }


def _medication(p: dict[str, Any], patient: str, visit: str) -> list[dict[str, Any]]:
    medication = {"text": p["medication_name"]}
    dosage = f"{p['dosage']} {p['frequency']} for {p['duration']}"
    request = {
        "resourceType": "MedicationRequest",
        "id": p["id"],
        "status": ORDER_STATUS.get(p["status"], "active"),
        "intent": "order",
        "medicationCodeableConcept": medication,
        "subject": _ref("Patient", patient),
        "encounter": _ref("Encounter", visit),
        "requester": {"display": p["prescribed_by"]},
        "dosageInstruction": [
            {"text": dosage + (f"; {p['instructions']}" if p.get("instructions") else "")}
        ],
    }
    if p["status"] != "DISPENSED":
        return [request]
    dispense = {
        "resourceType": "MedicationDispense",
        "id": f"{p['id']}-dispense",
        "status": "completed",
        "medicationCodeableConcept": medication,
        "subject": _ref("Patient", patient),
        "context": _ref("Encounter", visit),
        "authorizingPrescription": [_ref("MedicationRequest", p["id"])],
        **({"whenHandedOver": _iso(p["dispensed_at"])} if p.get("dispensed_at") else {}),
        **(
            {"performer": [{"actor": {"display": p["dispensed_by"]}}]}
            if p.get("dispensed_by")
            else {}
        ),
    }
    return [request, dispense]


def _lab(r: dict[str, Any], patient: str, visit: str) -> list[dict[str, Any]]:
    test = {"coding": [{"system": LAB_TEST, "code": r["test_type"]}], "text": r["test_type"]}
    request = {
        "resourceType": "ServiceRequest",
        "id": r["id"],
        "status": ORDER_STATUS.get(r["status"]) or LAB_STATUS.get(r["status"], "active"),
        "intent": "order",
        "priority": LAB_PRIORITY.get(r["urgency"], "routine"),
        "code": test,
        "subject": _ref("Patient", patient),
        "encounter": _ref("Encounter", visit),
        "requester": {"display": r["requested_by"]},
    }
    if r["status"] != "COMPLETED":
        return [request]
    observations: list[dict[str, Any]] = []
    for result in r.get("results") or []:
        analyte = result["analyte"]
        coding = [{"system": LAB_TEST, "code": analyte, "display": result.get("name", analyte)}]
        if analyte in ANALYTE_LOINC:
            code, display = ANALYTE_LOINC[analyte]
            coding.insert(0, {"system": LOINC, "code": code, "display": display})
        observation: dict[str, Any] = {
            "resourceType": "Observation",
            "id": f"{r['id']}-{analyte}",
            "status": "final",
            "category": [{"coding": [{"system": OBSERVATION_CATEGORY, "code": "laboratory"}]}],
            "code": {"coding": coding, "text": result.get("name", analyte)},
            "subject": _ref("Patient", patient),
            "encounter": _ref("Encounter", visit),
            "basedOn": [_ref("ServiceRequest", r["id"])],
        }
        if isinstance(result["value"], int | float) and result.get("unit"):
            observation["valueQuantity"] = _quantity(float(result["value"]), result["unit"])
        else:
            observation["valueString"] = str(result.get("text") or result["value"])
        flag = result.get("flag")
        if flag in INTERPRETATIONS:
            code, display = INTERPRETATIONS[flag]
            observation["interpretation"] = [
                {"coding": [{"system": INTERPRETATION, "code": code, "display": display}]}
            ]
        ranges = result.get("referenceRange") or {}
        if ranges.get("low") is not None or ranges.get("high") is not None:
            unit = ranges.get("unit") or result.get("unit") or ""
            observation["referenceRange"] = [
                {
                    k: _quantity(float(ranges[k]), unit)
                    for k in ("low", "high")
                    if ranges.get(k) is not None
                }
            ]
        observations.append(observation)
    report = {
        "resourceType": "DiagnosticReport",
        "id": f"{r['id']}-report",
        "status": "final",
        "code": test,
        "subject": _ref("Patient", patient),
        "encounter": _ref("Encounter", visit),
        "basedOn": [_ref("ServiceRequest", r["id"])],
        "result": [_ref("Observation", o["id"]) for o in observations],
        **({"issued": _iso(r["completed_at"])} if r.get("completed_at") else {}),
        **(
            {
                "conclusion": "Critical values"
                + (f": {r['result_notes']}" if r.get("result_notes") else "")
            }
            if r.get("results_critical")
            else ({"conclusion": r["result_notes"]} if r.get("result_notes") else {})
        ),
    }
    return [request, report, *observations]


def _appointment(a: dict[str, Any], patient: str) -> dict[str, Any]:
    day = a["appointment_date"]
    # A follow-up is booked for a day, not an hour: the appointment spans that day.
    start = dt.datetime.combine(day, dt.time(), dt.UTC)
    participants: list[dict[str, Any]] = [
        {"actor": {**_ref("Patient", patient)}, "status": "accepted"}
    ]
    if a.get("clinician_id"):
        participants.append({"actor": {"display": a["clinician_id"]}, "status": "accepted"})
    return {
        "resourceType": "Appointment",
        "id": a["appointment_id"],
        "status": "booked",
        "appointmentType": {"text": a["appointment_type"]},
        "start": start.isoformat(),
        "end": (start + dt.timedelta(days=1)).isoformat(),
        "participant": participants,
        **({"comment": a["notes"]} if a.get("notes") else {}),
    }


def visit_bundle(parts: VisitParts) -> dict[str, Any]:
    """The Bundle (type collection) of one visit, validated as FHIR R4B."""
    patient, visit = parts.patient["patient_id"], parts.visit["visit_id"]
    resources: list[dict[str, Any]] = [
        _patient(parts.patient, parts.visit.get("phone_number")),
        _encounter(parts),
        *_vital_observations(parts, _iso(parts.visit.get("opened_at"))),
        *(_condition(d, patient, visit) for d in parts.diagnoses),
    ]
    for prescription in parts.prescriptions:
        resources.extend(_medication(prescription, patient, visit))
    for lab_request in parts.lab_requests:
        resources.extend(_lab(lab_request, patient, visit))
    resources.extend(_appointment(a, patient) for a in parts.follow_ups)
    bundle: dict[str, Any] = {
        "resourceType": "Bundle",
        "type": "collection",
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "entry": [],
    }
    for resource in resources:
        resource["id"] = _fid(resource["id"])
        bundle["entry"].append(
            {
                "fullUrl": f"{FHIR_BASE}/{resource['resourceType']}/{resource['id']}",
                "resource": resource,
            }
        )
    validated: dict[str, Any] = json.loads(Bundle.model_validate(bundle).model_dump_json())
    return validated
