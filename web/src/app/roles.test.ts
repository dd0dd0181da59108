import { describe, expect, it } from "vitest";
import { homeFor, screensFor } from "./roles";
import { refreshDelay } from "./auth";

describe("roles", () => {
  it("lands each role on its department", () => {
    expect(homeFor(["triage_nurse"])).toBe("/triage");
    expect(homeFor(["cashier"])).toBe("/cashier");
    expect(screensFor(["admin"])[0]).toBe("admin");
    expect(homeFor([])).toBe("/");
  });
  it("refreshes a minute before expiry, earlier for short tokens", () => {
    expect(refreshDelay(900_000, 0)).toBe(840_000);
    expect(refreshDelay(60_000, 0)).toBe(48_000);
    expect(refreshDelay(120_000, 0)).toBe(96_000);
  });
});
