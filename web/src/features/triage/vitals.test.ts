import { describe, expect, it } from "vitest";
import { parseBloodPressure, parseQuantity, suggestedCategory, tewsScore } from "./vitals";

describe("vital signs as typed", () => {
  it("reads the scenario's values", () => {
    expect(parseQuantity("38.5°C", "temperature")).toEqual({ ok: true, reading: { value: 38.5, unit: "°C", text: "38.5°C" } });
    expect(parseQuantity("95 bpm", "pulse")).toMatchObject({ ok: true, reading: { value: 95, text: "95/min" } });
    expect(parseQuantity("20/min", "respiratoryRate")).toMatchObject({ ok: true, reading: { value: 20 } });
    expect(parseBloodPressure("140/90")).toMatchObject({ ok: true, systolic: 140, reading: { text: "140/90 mmHg" } });
  });
  it("refuses the impossible with the server's words", () => {
    expect(parseQuantity("900", "pulse")).toEqual({ ok: false, message: "900/min is not possible; expected 20 to 300 /min" });
    expect(parseQuantity("98 F", "temperature")).toMatchObject({ ok: false });
    expect(parseBloodPressure("90/140")).toEqual({ ok: false, message: "diastolic must be lower than systolic" });
    expect(parseQuantity("", "pulse")).toBeNull();
  });
  it("scores TEWS and suggests a category", () => {
    const score = tewsScore({ respiratoryRate: 20, pulse: 95, systolic: 140, temperature: 38.5 });
    expect(score).toBe(3);
    expect(suggestedCategory(score)).toBe("URGENT");
    expect(suggestedCategory(tewsScore({}))).toBe("NORMAL");
  });
});
