import { describe, expect, it } from "vitest";
import { byPriorityThenArrival, waitingText } from "./waiting";

describe("waiting time", () => {
  it("reads minutes, then hours and minutes", () => {
    const start = "2026-01-01T08:00:00Z";
    expect(waitingText(start, Date.parse("2026-01-01T08:07:30Z"))).toBe("7 min");
    expect(waitingText(start, Date.parse("2026-01-01T10:05:00Z"))).toBe("2 h 5 min");
    expect(waitingText(start, Date.parse("2026-01-01T07:00:00Z"))).toBe("0 min");
  });
  it("puts URGENT first, then the longest waiting", () => {
    const rows = [
      { id: "a", priority: "NORMAL", createdAt: "2026-01-01T08:00:00Z" },
      { id: "b", priority: "URGENT", createdAt: "2026-01-01T09:00:00Z" },
      { id: "c", priority: "NORMAL", createdAt: "2026-01-01T07:00:00Z" },
    ];
    expect(byPriorityThenArrival(rows).map((r) => r.id)).toEqual(["b", "c", "a"]);
  });
});
