"""Who may do what: the one role x permission matrix of the whole system.

Every route names the permission it needs (``require(Permission.X)``); the notifier asks the
same matrix before a frame leaves for a user. The README's access table is this data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class Role(StrEnum):
    RECEPTIONIST = "receptionist"
    TRIAGE_NURSE = "triage_nurse"
    CLINICAL_OFFICER = "clinical_officer"
    LAB_TECHNICIAN = "lab_technician"
    PHARMACIST = "pharmacist"
    CASHIER = "cashier"
    ADMIN = "admin"
    # The nurse or clinician in charge of a department: supervises every worklist.
    IN_CHARGE = "in_charge"


class Stage(StrEnum):
    """A department's step in the visit; each owns a worklist of assignments."""

    TRIAGE = "TRIAGE"
    CONSULTATION = "CONSULTATION"
    LAB = "LAB"
    PHARMACY = "PHARMACY"
    PAYMENT = "PAYMENT"


# The role whose staff work each stage's worklist.
STAGE_ROLE: dict[Stage, Role] = {
    Stage.TRIAGE: Role.TRIAGE_NURSE,
    Stage.CONSULTATION: Role.CLINICAL_OFFICER,
    Stage.LAB: Role.LAB_TECHNICIAN,
    Stage.PHARMACY: Role.PHARMACIST,
    Stage.PAYMENT: Role.CASHIER,
}

ALL_STAFF = frozenset(Role)
# Who may close or hand on any assignment, not only their own.
SUPERVISORS = frozenset({Role.IN_CHARGE, Role.ADMIN})
CLINICAL = frozenset({Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER})


class Permission(StrEnum):
    PATIENT_REGISTER = "patient:register"
    PATIENT_READ = "patient:read"  # demographics: name, gender, age, phone, OP number
    PATIENT_CORRECT = "patient:correct"
    VISIT_READ = "visit:read"
    VISIT_UPDATE = "visit:update"
    APPOINTMENT_SCHEDULE = "appointment:schedule"
    APPOINTMENT_READ = "appointment:read"
    WORKLIST_READ = "worklist:read"
    ASSIGNMENT_CREATE = "assignment:create"
    ASSIGNMENT_UPDATE = "assignment:update"
    DUTY_SET_OWN = "duty:set-own"
    DUTY_SET_ANY = "duty:set-any"
    CLINICAL_READ = "clinical:read"  # vital signs, complaints, diagnoses, orders, results
    ENCOUNTER_UPDATE = "encounter:update"  # vital signs, triage category, chief complaint
    CONSULTATION_WRITE = "consultation:write"  # diagnoses, prescriptions, lab orders
    LAB_RESULT_ENTER = "lab-result:enter"  # results of a lab request, its status
    PRESCRIPTION_DISPENSE = "prescription:dispense"  # dispensing and counselling notes
    INVOICE_READ = "invoice:read"  # a visit's charges, payments and balance
    PAYMENT_TAKE = "payment:take"  # processPayment at the till
    AUDIT_READ = "audit:read"
    STAFF_ADMIN = "staff:admin"  # staff accounts: create, roles, deactivate, reset passwords
    KEYS_ROTATE = "keys:rotate"  # identity signs with a new key
    PASSWORD_CHANGE_OWN = "password:change-own"  # POST /me/password
    REPORT_READ = "report:read"  # the daily outpatient report (counts, no patient)
    RECORD_EXPORT = "record:export"  # a visit as FHIR, for another system (clinicians, admin)


# Permissions that do not depend on the department the request is made to.
_GLOBAL: dict[Permission, frozenset[Role]] = {
    Permission.PATIENT_REGISTER: frozenset({Role.RECEPTIONIST, Role.ADMIN}),
    Permission.PATIENT_READ: ALL_STAFF,
    Permission.PATIENT_CORRECT: frozenset({Role.RECEPTIONIST, Role.ADMIN}),
    Permission.VISIT_READ: ALL_STAFF,
    Permission.VISIT_UPDATE: frozenset({Role.RECEPTIONIST, Role.CASHIER, Role.ADMIN}),
    Permission.APPOINTMENT_SCHEDULE: frozenset(
        {Role.RECEPTIONIST, Role.CLINICAL_OFFICER, Role.ADMIN}
    ),
    Permission.APPOINTMENT_READ: frozenset(
        {Role.RECEPTIONIST, Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER, Role.ADMIN}
    ),
    Permission.DUTY_SET_ANY: frozenset({Role.ADMIN}),
    Permission.CLINICAL_READ: frozenset(
        {Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER, Role.LAB_TECHNICIAN, Role.PHARMACIST}
    ),
    Permission.AUDIT_READ: frozenset({Role.ADMIN}),
    Permission.REPORT_READ: SUPERVISORS,
    Permission.RECORD_EXPORT: frozenset(
        {
            Role.TRIAGE_NURSE,
            Role.CLINICAL_OFFICER,
            Role.LAB_TECHNICIAN,
            Role.PHARMACIST,
            Role.ADMIN,
        }
    ),
    Permission.ENCOUNTER_UPDATE: frozenset({Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER}),
    Permission.CONSULTATION_WRITE: frozenset({Role.CLINICAL_OFFICER}),
    Permission.LAB_RESULT_ENTER: frozenset({Role.LAB_TECHNICIAN}),
    Permission.PRESCRIPTION_DISPENSE: frozenset({Role.PHARMACIST}),
    # The front desk answers "what do I owe?"; only the till takes money.
    Permission.INVOICE_READ: frozenset({Role.CASHIER, Role.RECEPTIONIST, Role.ADMIN}),
    Permission.PAYMENT_TAKE: frozenset({Role.CASHIER, Role.ADMIN}),
    Permission.STAFF_ADMIN: frozenset({Role.ADMIN}),
    Permission.KEYS_ROTATE: frozenset({Role.ADMIN}),
    Permission.PASSWORD_CHANGE_OWN: ALL_STAFF,
}

# Who hands patients on to each stage: they may put a patient on that stage's worklist.
_HANDS_ON_TO: dict[Stage, frozenset[Role]] = {
    Stage.TRIAGE: frozenset({Role.RECEPTIONIST}),
    Stage.CONSULTATION: frozenset({Role.TRIAGE_NURSE, Role.CLINICAL_OFFICER}),
    Stage.LAB: frozenset({Role.CLINICAL_OFFICER}),
    Stage.PHARMACY: frozenset({Role.CLINICAL_OFFICER}),
    Stage.PAYMENT: frozenset(),
}


def roles_for(permission: Permission, stage: Stage | None = None) -> frozenset[Role]:
    """The roles holding ``permission``; worklist permissions depend on the stage."""
    if permission in _GLOBAL:
        return _GLOBAL[permission]
    if stage is None:
        raise ValueError(f"{permission} is a worklist permission: name the stage")
    own = frozenset({STAGE_ROLE[stage], Role.ADMIN})
    if permission is Permission.WORKLIST_READ:
        return own | SUPERVISORS
    if permission is Permission.ASSIGNMENT_CREATE:
        return own | _HANDS_ON_TO[stage]
    if permission is Permission.ASSIGNMENT_UPDATE:
        return own | SUPERVISORS
    if permission is Permission.DUTY_SET_OWN:
        return own
    raise ValueError(f"unknown permission {permission}")


def allowed(roles: frozenset[str], permission: Permission, stage: Stage | None = None) -> bool:
    return bool(roles & roles_for(permission, stage))


def matrix() -> list[tuple[str, str, list[str]]]:
    """(permission, stage or '', roles) rows: the README table and the access tests walk it."""
    rows: list[tuple[str, str, list[str]]] = []
    for permission in Permission:
        if permission in _GLOBAL:
            rows.append((permission.value, "", sorted(r.value for r in _GLOBAL[permission])))
        else:
            for stage in Stage:
                rows.append((permission.value, stage.value, sorted(roles_for(permission, stage))))
    return rows


# -- Clinical fields: one rule for frames, REST answers and audit images -----------------------
# Each kind of record names its clinical fields. Roles without CLINICAL_READ never get them,
# whether the record reaches them in a WebSocket frame, a REST answer or an audit record's
# before/after image (``visible``). A wholly clinical record (vital signs, a diagnosis, a lab
# request, a prescription) shows them only which, who and when: ids, status, actors and times.

_CLINICAL_READERS = _GLOBAL[Permission.CLINICAL_READ]
_DESK = frozenset({Role.RECEPTIONIST, Role.CASHIER, Role.ADMIN})

CLINICAL_FIELDS: dict[str, frozenset[str]] = {
    "VISIT": frozenset({"dischargeNotes", "diagnosis"}),
    "APPOINTMENT": frozenset({"notes", "diagnosis"}),
    # "Morphine 10mg prescribed by ..."; its audit records' details repeat the reason.
    "ASSIGNMENT": frozenset({"chiefComplaint", "notes", "reason", "details"}),
    "CHARGE": frozenset({"description", "code"}),  # an invoice line names the medicine or test
    # A patient waiting past their target: the triage colour is a clinical judgement, the till
    # sees only that payment is overdue.
    "WAIT": frozenset({"colour"}),
}
CLINICAL_RECORDS = frozenset(
    {"ENCOUNTER", "DIAGNOSIS", "LAB_REQUEST", "PRESCRIPTION", "PATIENT_RECORD"}
)
# Records inside records: a patient's open visit, an invoice's lines, a receipt's invoice.
NESTED_RECORDS: dict[str, dict[str, str]] = {
    "PATIENT": {"visit": "VISIT"},
    "INVOICE": {"items": "CHARGE"},
    "PAYMENT": {"invoice": "INVOICE"},
}
# What a wholly clinical record shows everyone: which record, its state, who and when.
_RECORD_KEEPING = frozenset({"id", "status", "version", "opNumber", "patientName", "timestamp"})
_RECORD_KEEPING_SUFFIXES = ("Id", "By", "At")


def assignment_record(stage: Stage) -> str:
    """The kind of record a stage's worklist assignment is. On the till's worklist the reason
    is the bill ("Ready for payment: KES 500.00 (Consultation, ...)"), nothing clinical."""
    return "PAYMENT_ASSIGNMENT" if stage is Stage.PAYMENT else "ASSIGNMENT"


def is_clinical_field(kind: str, field: str) -> bool:
    """Is ``field`` of a ``kind`` record (``"VISIT"``, ``"PRESCRIPTION"``, ...) clinical?"""
    if kind in CLINICAL_RECORDS:
        return field not in _RECORD_KEEPING and not field.endswith(_RECORD_KEEPING_SUFFIXES)
    return field in CLINICAL_FIELDS.get(kind, frozenset())


def _without_clinical(kind: str, data: Any) -> Any:
    if isinstance(data, list):
        return [_without_clinical(kind, item) for item in data]
    if not isinstance(data, dict):
        return data
    nested = NESTED_RECORDS.get(kind, {})
    return {
        key: _without_clinical(nested[key], value) if key in nested else value
        for key, value in data.items()
        if key in nested or not is_clinical_field(kind, key)
    }


# Who else reads a kind's clinical fields: the in-charge acts on a patient waiting past the
# target of their triage colour (issue 14), so the colour is theirs to see, nothing more.
_ALSO_READ_BY: dict[str, frozenset[Role]] = {"WAIT": SUPERVISORS}


def visible(kind: str, data: Any, roles: frozenset[str]) -> Any:
    """A ``kind`` record (or a list of them), as JSON, as a user with ``roles`` may see it."""
    if roles & _CLINICAL_READERS or roles & _ALSO_READ_BY.get(kind, frozenset()):
        return data
    return _without_clinical(kind, data)


# -- The WebSocket side of the matrix ---------------------------------------------------------
# Which roles may receive each notifier frame at all, and which kind of record it carries (its
# clinical fields are stripped for roles without CLINICAL_READ, as in the REST answers). The
# notifier asks ``frame_for`` before every send, and addresses the frames it sends to roles
# through ``frame_addressees`` (below), so whom a frame is for is decided here only.

FRAME_ROLES: dict[str, frozenset[Role]] = {
    "patient_registered": ALL_STAFF,
    "new_assignment": ALL_STAFF,  # addressed to one person or one role's queue
    # A patient's record changed (vital signs, triage category, complaint, diagnoses, orders),
    # sent to every holder of the role about every patient: only the clinicians who assess and
    # treat need that stream. Lab and pharmacy get the part they act on (new_lab_request,
    # prescription_ready) and read the record (CLINICAL_READ) when they work on a patient:
    # the least clinical data that does the job.
    "patient_updated": CLINICAL,
    "patient_assignment_updated": _CLINICAL_READERS,
    "new_lab_request": frozenset({Role.LAB_TECHNICIAN, Role.CLINICAL_OFFICER}),
    "lab_results_ready": frozenset({Role.CLINICAL_OFFICER, Role.LAB_TECHNICIAN}),
    "prescription_ready": frozenset({Role.PHARMACIST, Role.CLINICAL_OFFICER}),
    "prescription_updated": ALL_STAFF,
    "patient_ready_for_payment": _DESK,
    "visit_completed": ALL_STAFF,
    "follow_up_scheduled": frozenset({Role.CLINICAL_OFFICER, Role.RECEPTIONIST, Role.TRIAGE_NURSE}),
    # To the stage's own role and the in-charge (frames.wait_time_exceeded addresses it).
    "wait_time_exceeded": frozenset(STAGE_ROLE.values()) | SUPERVISORS,
    # The visits board's refresh: a visit's status or who has the patient changed.
    "visit_updated": frozenset({Role.RECEPTIONIST}) | SUPERVISORS,
}

# The kind of record a frame that reaches non-clinical roles carries.
FRAME_RECORDS: dict[str, str] = {
    "prescription_updated": "PRESCRIPTION",
    "follow_up_scheduled": "APPOINTMENT",
    "visit_completed": "VISIT",
    "new_assignment": "ASSIGNMENT",
    "wait_time_exceeded": "WAIT",
}


# Whom a frame addressed to roles (not to one person) is sent to: the roles whose work it is,
# always among FRAME_ROLES (which may also hold the roles that get it addressed to them by name,
# e.g. the clinician who ordered a test). A worklist's frames go to that stage's role.
_FRAME_ADDRESSEES: dict[str, frozenset[Role]] = {
    "patient_registered": FRAME_ROLES["patient_registered"],
    "patient_updated": FRAME_ROLES["patient_updated"],
    "new_lab_request": frozenset({Role.LAB_TECHNICIAN}),
    "prescription_ready": frozenset({Role.PHARMACIST}),
    "prescription_updated": FRAME_ROLES["prescription_updated"],
    "patient_ready_for_payment": frozenset({Role.CASHIER}),
    "follow_up_scheduled": frozenset({Role.CLINICAL_OFFICER}),
    "visit_updated": FRAME_ROLES["visit_updated"],
}


def frame_addressees(event: str, stage: Stage | None = None) -> tuple[str, ...]:
    """The roles a frame not addressed to one person goes to (sorted role names)."""
    if event == "new_assignment" and stage is not None:
        roles = frozenset({STAGE_ROLE[stage]})
    elif event == "wait_time_exceeded" and stage is not None:
        roles = frozenset({STAGE_ROLE[stage], Role.IN_CHARGE})
    else:
        roles = _FRAME_ADDRESSEES[event]
    if not roles <= FRAME_ROLES[event]:
        raise ValueError(f"{event} addressed to roles that may not receive it")
    return tuple(sorted(r.value for r in roles))


def frame_for(
    event: str, data: dict[str, object], roles: frozenset[str]
) -> dict[str, object] | None:
    """The frame's data as a user with ``roles`` may see it, or None if they may not at all."""
    audience = FRAME_ROLES.get(event)
    if audience is None or not roles & audience:
        return None
    kind = FRAME_RECORDS.get(event)
    return data if kind is None else visible(kind, data, roles)


# -- Presence and typing: the notifier's live collaboration frames -----------------------------
# Presence ("Sarah is viewing John Doe's record") on an entity goes only to the roles that may
# open that entity through the REST APIs, and only they may announce it. Typing names a field of
# a patient: a clinical field ("diagnosis", "vital_signs", and any field not listed below) only
# reaches clinical readers, a billing field only the desk. The notifier passes every frame it
# sends through ``live_frame_for``; services/notifier/README.md shows these tables.

PRESENCE_ENTITY_ROLES: dict[str, frozenset[Role]] = {
    "patient": _GLOBAL[Permission.PATIENT_READ],  # the patient's record: demographics for all
    "visit": _GLOBAL[Permission.VISIT_READ],
    "appointment": _GLOBAL[Permission.APPOINTMENT_READ],
    "encounter": _CLINICAL_READERS,  # triage: vital signs, complaint
    "lab_request": _CLINICAL_READERS,
    "prescription": _CLINICAL_READERS,
    "invoice": _DESK,
}


class TypingFieldGroup(StrEnum):
    DEMOGRAPHIC = "demographic"
    BILLING = "billing"
    CLINICAL = "clinical"


# Field names are compared without case, "_" or "-": phone_number == phoneNumber.
TYPING_FIELDS: dict[TypingFieldGroup, frozenset[str]] = {
    TypingFieldGroup.DEMOGRAPHIC: frozenset(
        {
            "firstname",
            "lastname",
            "othernames",
            "gender",
            "age",
            "dateofbirth",
            "phonenumber",
            "email",
            "address",
            "nextofkin",
            "nationalid",
            "insurancetype",
            "insurancenumber",
        }
    ),
    TypingFieldGroup.BILLING: frozenset(
        {"payment", "paymenttype", "amount", "invoice", "charges", "discount", "receipt"}
    ),
}

TYPING_FIELD_ROLES: dict[TypingFieldGroup, frozenset[Role]] = {
    TypingFieldGroup.DEMOGRAPHIC: PRESENCE_ENTITY_ROLES["patient"],
    TypingFieldGroup.BILLING: _DESK,
    TypingFieldGroup.CLINICAL: _CLINICAL_READERS,
}

# Answers to the user's own request (and the presence state of an entity they opened, which
# ``may_see_presence`` already allowed): nothing in them is someone else's data.
REPLY_FRAMES = frozenset({"pong", "error", "resumed", "marked_read"})


def typing_field_group(field: str) -> TypingFieldGroup:
    """The group of a patient field; a field nobody listed is clinical, so it cannot leak."""
    key = "".join(ch for ch in field.lower() if ch.isalnum())
    for group, names in TYPING_FIELDS.items():
        if key in names:
            return group
    return TypingFieldGroup.CLINICAL


def may_see_presence(roles: frozenset[str], entity_type: str) -> bool:
    """May a user with ``roles`` see (and announce) who has an ``entity_type`` open?"""
    return bool(roles & PRESENCE_ENTITY_ROLES.get(entity_type, frozenset()))


def may_see_typing(roles: frozenset[str], field: str) -> bool:
    """May a user with ``roles`` see (and signal) typing in this field of a patient?"""
    return may_see_presence(roles, "patient") and bool(
        roles & TYPING_FIELD_ROLES[typing_field_group(field)]
    )


def live_frame_for(
    event: str, data: dict[str, object], roles: frozenset[str]
) -> dict[str, object] | None:
    """Every frame the notifier sends, as a user with ``roles`` may see it (None: not at all)."""
    if event in REPLY_FRAMES:
        return data
    if event in ("presence_state", "presence_diff"):
        return data if may_see_presence(roles, str(data.get("entityType"))) else None
    if event == "typing":
        return data if may_see_typing(roles, str(data.get("field"))) else None
    return frame_for(event, data, roles)
