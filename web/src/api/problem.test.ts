import { describe, expect, it } from "vitest";
import { ApiError, changedFields, fieldErrors } from "./problem";

describe("server errors on their fields", () => {
  it("puts each message under the field it names, the rest above the form", () => {
    const error = new ApiError(422, {
      detail: "…",
      errors: [
        { field: "vitalSigns.pulse", message: "900/min is not possible; expected 20 to 300 /min" },
        { field: "body.phoneNumber", message: "Value error, may contain only digits" },
        { field: "somethingElse", message: "no" },
      ],
    });
    expect(fieldErrors(error, ["pulse", "phoneNumber"])).toEqual({
      pulse: "900/min is not possible; expected 20 to 300 /min",
      phoneNumber: "may contain only digits",
      "": "no",
    });
    expect(fieldErrors(new ApiError(409, { detail: "stale" }), ["pulse"])).toEqual({ "": "stale" });
    expect(fieldErrors(null, ["pulse"])).toEqual({});
  });
  it("lists what the other person changed", () => {
    expect(changedFields({ a: 1, b: { text: "x" }, version: 1 }, { a: 1, b: { text: "y" }, version: 2 })).toEqual([
      { field: "b", before: { text: "x" }, after: { text: "y" } },
    ]);
  });
});
