/** Short names for the generated schemas the screens use. */
import type { components as Billing } from "./generated/billing";
import type { components as Clinical } from "./generated/clinical";
import type { components as Lab } from "./generated/lab";
import type { components as Pharmacy } from "./generated/pharmacy";
import type { components as Registration } from "./generated/registration";
import type { components as Triage } from "./generated/triage";

export type Assignment = Triage["schemas"]["AssignmentOut"];
export type Duty = Triage["schemas"]["DutyOut"];
export type Patient = Registration["schemas"]["PatientOut"];
export type PatientCreate = Registration["schemas"]["PatientCreate"];
export type Visit = Registration["schemas"]["VisitOut"];
export type BoardVisit = Registration["schemas"]["BoardVisit"];
export type BoardStage = Registration["schemas"]["BoardStage"];
export type Encounter = Triage["schemas"]["EncounterOut"];
export type PatientRecord = Clinical["schemas"]["PatientRecord"];
export type LabRequest = Lab["schemas"]["LabRequestOut"];
export type LabTest = Lab["schemas"]["LabTestOut"];
export type Prescription = Pharmacy["schemas"]["PrescriptionOut"];
export type Invoice = Billing["schemas"]["InvoiceOut"];
