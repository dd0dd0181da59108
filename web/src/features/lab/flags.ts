/** A lab value's flag against its reference range, shown while the technician types. */
export interface Range {
  low: number | null;
  high: number | null;
  unit: string | null;
  criticalLow?: number | null;
  criticalHigh?: number | null;
}
export type Flag = "NORMAL" | "LOW" | "HIGH" | "CRITICAL_LOW" | "CRITICAL_HIGH";

export function leadingNumber(text: string): number | null {
  const m = /^\s*(-?\d+(?:[.,]\d+)?)/.exec(text);
  return m ? parseFloat((m[1] ?? "").replace(",", ".")) : null;
}

export function flagFor(text: string, range: Range | null | undefined): Flag | null {
  const value = leadingNumber(text);
  if (value === null || !range) return null;
  if (range.criticalLow != null && value < range.criticalLow) return "CRITICAL_LOW";
  if (range.criticalHigh != null && value > range.criticalHigh) return "CRITICAL_HIGH";
  if (range.low != null && value < range.low) return "LOW";
  if (range.high != null && value > range.high) return "HIGH";
  return "NORMAL";
}

export function rangeText(range: Range | null | undefined): string {
  if (!range) return "";
  const unit = range.unit ? ` ${range.unit}` : "";
  if (range.low != null && range.high != null) return `${range.low}–${range.high}${unit}`;
  if (range.high != null) return `< ${range.high}${unit}`;
  if (range.low != null) return `> ${range.low}${unit}`;
  return "";
}
