/**
 * Vital signs as staff type them, read the way the triage service reads them
 * (shared/kliniki/measurements.py, triage/domain.py): a preview while typing. The server's
 * answer decides; its message is what the field shows when it refuses.
 */
export interface Reading {
  value: number;
  unit: string;
  text: string;
}
export type Parsed = { ok: true; reading: Reading } | { ok: false; message: string } | null;

const ALIASES: Record<string, string> = {
  "°c": "°C", c: "°C", "ºc": "°C", "deg c": "°C", celsius: "°C",
  bpm: "/min", "/min": "/min", "per min": "/min", "beats/min": "/min", "breaths/min": "/min", "/minute": "/min",
  mmhg: "mmHg",
};
const RANGES: Record<string, [number, number, string]> = {
  temperature: [25, 45, "°C"],
  pulse: [20, 300, "/min"],
  respiratoryRate: [4, 80, "/min"],
};

const fmt = (n: number): string => String(Number(n.toPrecision(6)));
const textOf = (value: number, unit: string): string =>
  ["°C", "%", "/min"].includes(unit) ? `${fmt(value)}${unit}` : `${fmt(value)} ${unit}`;

function canonical(unit: string): string {
  return ALIASES[unit.trim().toLowerCase()] ?? unit.trim();
}

export function parseQuantity(raw: string, name: keyof typeof RANGES): Parsed {
  if (!raw.trim()) return null;
  const [low, high, unit] = RANGES[name] as [number, number, string];
  const m = /^\s*(-?\d+(?:[.,]\d+)?)\s*(\D.*?)?\s*$/.exec(raw);
  if (!m) return { ok: false, message: `'${raw}' is not a number in ${unit}` };
  const value = parseFloat((m[1] ?? "").replace(",", "."));
  if (m[2] && canonical(m[2]).toLowerCase() !== unit.toLowerCase()) {
    return { ok: false, message: `unit '${m[2]}' is not accepted here; use ${unit}` };
  }
  if (value < low || value > high) {
    return { ok: false, message: `${textOf(value, unit)} is not possible; expected ${low} to ${high} ${unit}` };
  }
  return { ok: true, reading: { value, unit, text: textOf(value, unit) } };
}

export function parseBloodPressure(raw: string): Parsed | { ok: true; reading: Reading; systolic: number } {
  if (!raw.trim()) return null;
  const m = /^\s*(\d+(?:\.\d+)?)\s*\/\s*(\d+(?:\.\d+)?)\s*([a-zA-Z].*?)?\s*$/.exec(raw);
  if (!m) return { ok: false, message: "expected two numbers like '140/90' in mmHg" };
  if (m[3] && canonical(m[3]) !== "mmHg") return { ok: false, message: `unit '${m[3]}' is not accepted here; use mmHg` };
  const systolic = parseFloat(m[1] ?? "");
  const diastolic = parseFloat(m[2] ?? "");
  if (systolic < 40 || systolic > 300) return { ok: false, message: `${systolic} mmHg is not possible; expected 40 to 300 mmHg` };
  if (diastolic < 20 || diastolic > 200) return { ok: false, message: `${diastolic} mmHg is not possible; expected 20 to 200 mmHg` };
  if (diastolic >= systolic) return { ok: false, message: "diastolic must be lower than systolic" };
  return { ok: true, systolic, reading: { value: systolic, unit: "mmHg", text: `${fmt(systolic)}/${fmt(diastolic)} mmHg` } };
}

function band(value: number | undefined, bands: [number, number][], above: number): number {
  if (value === undefined) return 0;
  for (const [upper, score] of bands) if (value < upper) return score;
  return above;
}

/** The adult TEWS from what is recorded (SATS 2012 bands), as triage/domain.py computes it. */
export function tewsScore(v: { respiratoryRate?: number; pulse?: number; systolic?: number; temperature?: number }): number {
  return (
    band(v.respiratoryRate, [[9, 3], [15, 0], [21, 1], [30, 2]], 3) +
    band(v.pulse, [[41, 3], [51, 1], [101, 0], [111, 1], [130, 2]], 3) +
    band(v.systolic, [[71, 3], [81, 2], [101, 1], [200, 0]], 2) +
    band(v.temperature, [[35, 2], [38.5, 0]], 2)
  );
}

export function suggestedCategory(score: number): "EMERGENCY" | "URGENT" | "NORMAL" {
  if (score >= 7) return "EMERGENCY";
  if (score >= 3) return "URGENT";
  return "NORMAL";
}
