import { describe, expect, it } from "vitest";
import {
  applyPresenceDiff,
  applyPresenceState,
  applyTyping,
  notificationText,
  othersIn,
  roomKey,
  SIGNALS,
  staleQueries,
  typingIn,
} from "./store";
import { backoffCeiling, tokenUser } from "./kliniki-live";

const sarah = { userId: "nurse_sarah", name: "Sarah Achieng", roles: ["triage_nurse"], mode: "viewing" as const };
const smith = { userId: "dr_smith", name: "Dr. Smith", roles: ["clinical_officer"], mode: "viewing" as const };

describe("presence", () => {
  it("takes the state, then joins, mode changes and leaves", () => {
    let rooms = applyPresenceState({}, { entityType: "patient", entityId: "p1", members: [sarah] });
    rooms = applyPresenceDiff(rooms, { entityType: "patient", entityId: "p1", joins: [smith], leaves: [] });
    expect(othersIn(rooms, roomKey("patient", "p1"), "nurse_sarah").map((m) => m.name)).toEqual(["Dr. Smith"]);
    rooms = applyPresenceDiff(rooms, {
      entityType: "patient", entityId: "p1", joins: [{ ...smith, mode: "editing" }], leaves: [],
    });
    expect(rooms["patient:p1"]?.find((m) => m.userId === "dr_smith")?.mode).toBe("editing");
    expect(rooms["patient:p1"]).toHaveLength(2);
    rooms = applyPresenceDiff(rooms, { entityType: "patient", entityId: "p1", joins: [], leaves: [smith] });
    expect(othersIn(rooms, "patient:p1", "nurse_sarah")).toEqual([]);
  });
});

describe("typing", () => {
  it("tracks who types in which field, and forgets them when they stop", () => {
    let typing = applyTyping({}, { patientId: "p1", field: "lab_results", userId: "mike", name: "Mike Otieno", isTyping: true });
    expect(typingIn(typing, "p1", "lab_results", "dr_smith")).toEqual(["Mike Otieno"]);
    expect(typingIn(typing, "p1", "lab_results", "mike")).toEqual([]);
    typing = applyTyping(typing, { patientId: "p1", field: "lab_results", userId: "mike", name: "Mike Otieno", isTyping: false });
    expect(typingIn(typing, "p1", "lab_results", "dr_smith")).toEqual([]);
  });
});

describe("notifications", () => {
  it("makes the matching queries stale", () => {
    const keys = staleQueries("lab_results_ready", { patientId: "p1" });
    expect(keys).toContainEqual(["clinical", "record", "p1"]);
    expect(staleQueries("patient_ready_for_payment", {})).toContainEqual(["billing", "assignments"]);
    expect(staleQueries("pong", {})).toEqual([]);
  });
  it("refreshes the visits board on a visit_updated signal, which is no notification", () => {
    expect(staleQueries("visit_updated", { patientId: "p1", visitId: "v1" })).toEqual([["registration", "visits"]]);
    expect(SIGNALS.has("visit_updated")).toBe(true);
    expect(SIGNALS.has("new_assignment")).toBe(false);
  });
  it("says what happened in one line", () => {
    expect(notificationText("new_assignment", { message: "John Doe (OP#12345) assigned for triage" })).toBe(
      "John Doe (OP#12345) assigned for triage",
    );
    expect(notificationText("prescription_ready", { medicationName: "Aspirin" })).toBe("Prescription ready: Aspirin");
  });
});

describe("the live client's helpers", () => {
  it("reads the user from a token and backs off up to the ceiling", () => {
    const payload = btoa(JSON.stringify({ sub: "nurse_sarah" })).replace(/=+$/, "");
    expect(tokenUser(`x.${payload}.y`)).toBe("nurse_sarah");
    expect(tokenUser("garbage")).toBeNull();
    expect(backoffCeiling(1, 500, 30000)).toBe(500);
    expect(backoffCeiling(3, 500, 30000)).toBe(2000);
    expect(backoffCeiling(20, 500, 30000)).toBe(30000);
  });
});
