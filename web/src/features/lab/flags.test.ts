import { describe, expect, it } from "vitest";
import { flagFor, rangeText } from "./flags";

const troponin = { low: null, high: 0.04, unit: "ng/mL", criticalLow: null, criticalHigh: 0.5 };

describe("lab flags as typed", () => {
  it("flags troponin 2.5 ng/mL as critically high", () => {
    expect(flagFor("2.5 ng/mL", troponin)).toBe("CRITICAL_HIGH");
    expect(flagFor("0.1", troponin)).toBe("HIGH");
    expect(flagFor("0.01", troponin)).toBe("NORMAL");
    expect(flagFor("", troponin)).toBeNull();
    expect(flagFor("POSITIVE", troponin)).toBeNull();
  });
  it("writes the reference range", () => {
    expect(rangeText(troponin)).toBe("< 0.04 ng/mL");
    expect(rangeText({ low: 1, high: 2, unit: null })).toBe("1–2");
  });
});
