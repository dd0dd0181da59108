"""Clinical service: Consultations: diagnoses (ICD-10), prescriptions, lab requests, the consultation worklist."""
