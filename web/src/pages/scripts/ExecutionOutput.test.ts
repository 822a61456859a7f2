import { describe, expect, it } from "vitest";
import { executionTone, isTerminal } from "./ExecutionOutput";

describe("execution statuses", () => {
  it("treats lost (the agent stopped reporting it) as final and failed", () => {
    expect(isTerminal("lost")).toBe(true);
    expect(executionTone("lost")).toBe("danger");
  });

  it("keeps polling only while a run can still change", () => {
    for (const s of ["pending", "sent", "running"]) expect(isTerminal(s)).toBe(false);
    for (const s of ["completed", "failed", "timeout", "cancelled", "expired", "rejected"]) expect(isTerminal(s)).toBe(true);
  });
});
