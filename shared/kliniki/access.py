"""Who may do what: the one role x permission matrix of the whole system.

Every route names the permission it needs (``require(Permission.X)``); the notifier asks the
same matrix before a frame leaves for a user. The README's access table is this data.
"""

from __future__ import annotations

from enum import StrEnum


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


# -- The WebSocket side of the matrix ---------------------------------------------------------
# Which roles may receive each notifier frame at all, and which of its fields are clinical
# (stripped for roles without CLINICAL_READ). The notifier asks ``frame_for`` before every send.

_CLINICAL_READERS = _GLOBAL[Permission.CLINICAL_READ]
_DESK = frozenset({Role.RECEPTIONIST, Role.CASHIER, Role.ADMIN})

FRAME_ROLES: dict[str, frozenset[Role]] = {
    "patient_registered": ALL_STAFF,
    "new_assignment": ALL_STAFF,  # addressed to one person or one role's queue
    "patient_updated": _CLINICAL_READERS,
    "patient_assignment_updated": _CLINICAL_READERS,
    "new_lab_request": frozenset({Role.LAB_TECHNICIAN, Role.CLINICAL_OFFICER}),
    "lab_results_ready": frozenset({Role.CLINICAL_OFFICER, Role.LAB_TECHNICIAN}),
    "prescription_ready": frozenset({Role.PHARMACIST, Role.CLINICAL_OFFICER}),
    "prescription_updated": ALL_STAFF,
    "patient_ready_for_payment": _DESK,
    "visit_completed": ALL_STAFF,
    "follow_up_scheduled": frozenset({Role.CLINICAL_OFFICER, Role.RECEPTIONIST, Role.TRIAGE_NURSE}),
}

# Top-level fields of a frame that only clinical roles see.
CLINICAL_FRAME_FIELDS: dict[str, frozenset[str]] = {
    "prescription_updated": frozenset({"medicationName", "dosage", "dispensingNotes"}),
    "follow_up_scheduled": frozenset({"notes", "diagnosis"}),
    "visit_completed": frozenset({"dischargeNotes", "diagnosis"}),
    "new_assignment": frozenset({"chiefComplaint", "notes"}),
}


def frame_for(
    event: str, data: dict[str, object], roles: frozenset[str]
) -> dict[str, object] | None:
    """The frame's data as a user with ``roles`` may see it, or None if they may not at all."""
    audience = FRAME_ROLES.get(event)
    if audience is None or not roles & audience:
        return None
    if roles & _CLINICAL_READERS:
        return data
    hidden = CLINICAL_FRAME_FIELDS.get(event, frozenset())
    return {k: v for k, v in data.items() if k not in hidden}


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
