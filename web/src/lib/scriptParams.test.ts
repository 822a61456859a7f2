import { describe, expect, it } from "vitest";
import { initialValues, normalizeParams, toPayload, validateParams } from "./scriptParams";

const params = normalizeParams([
  { name: "path", type: "string", required: true },
  { name: "days", type: "number", default: 7 },
  { name: "force", type: "boolean", default: true },
  { name: "mode", type: "select", options: ["fast", "safe"] },
]);

describe("script parameters", () => {
  it("starts from the defaults", () => {
    expect(initialValues(params)).toEqual({ path: "", days: "7", force: true, mode: "" });
  });
  it("validates required, numbers and choices", () => {
    expect(validateParams(params, { path: "", days: "x", force: false, mode: "slow" })).toEqual({ path: "Required.", days: "Enter a number.", mode: "Pick one of the options." });
    expect(validateParams(params, { path: "/tmp", days: "3", force: false, mode: "" })).toEqual({});
  });
  it("sends typed values and leaves empty optional ones out", () => {
    expect(toPayload(params, { path: "/tmp", days: "3", force: false, mode: "" })).toEqual({ path: "/tmp", days: 3, force: false });
  });
  it("reads the JSON-Schema form too", () => {
    const p = normalizeParams({ properties: { n: { type: "integer", title: "N" }, c: { enum: ["a", "b"] } }, required: ["n"] });
    expect(p.map((x) => [x.name, x.type, x.required])).toEqual([
      ["n", "number", true],
      ["c", "select", false],
    ]);
  });
});
