"""Clinical service: Consultations: ICD-10 diagnoses, prescriptions, lab requests, the worklist."""
