/** Which screens a role works in (the first is where sign-in lands). */
export type Screen = "reception" | "triage" | "clinical" | "lab" | "pharmacy" | "cashier" | "admin";

const BY_ROLE: Record<string, Screen[]> = {
  receptionist: ["reception"],
  triage_nurse: ["triage"],
  clinical_officer: ["clinical"],
  lab_technician: ["lab"],
  pharmacist: ["pharmacy"],
  cashier: ["cashier"],
  admin: ["admin", "reception", "triage", "clinical", "lab", "pharmacy", "cashier"],
};

export function screensFor(roles: readonly string[]): Screen[] {
  const out: Screen[] = [];
  for (const role of roles) for (const s of BY_ROLE[role] ?? []) if (!out.includes(s)) out.push(s);
  return out;
}

export function homeFor(roles: readonly string[]): string {
  const first = screensFor(roles)[0];
  return first ? `/${first}` : "/";
}
