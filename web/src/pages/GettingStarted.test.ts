import { describe, expect, it } from "vitest";
import type { Device, EnrollmentKeyCreated } from "../api/types";
import { firstOpenStep, newestEnrolledSince } from "./GettingStarted";

const key = { site_id: "s1" } as EnrollmentKeyCreated;

describe("firstOpenStep", () => {
  it("resumes at the first step not done", () => {
    expect(firstOpenStep({ orgId: null, siteId: null, key: null })).toBe("organization");
    expect(firstOpenStep({ orgId: "o1", siteId: null, key: null })).toBe("site");
    expect(firstOpenStep({ orgId: "o1", siteId: "s1", key: null })).toBe("key");
    expect(firstOpenStep({ orgId: "o1", siteId: "s1", key })).toBe("install");
    // A key for another site does not count.
    expect(firstOpenStep({ orgId: "o1", siteId: "s2", key })).toBe("key");
  });
});

describe("newestEnrolledSince", () => {
  const d = (id: string, enrolled_at: string | null) => ({ id, enrolled_at }) as Device;
  it("finds a device that enrolled after the wait began, not an older one", () => {
    const since = "2026-01-01T10:00:00Z";
    expect(newestEnrolledSince([d("old", "2026-01-01T09:00:00Z"), d("pending", null)], since)).toBeNull();
    expect(newestEnrolledSince([d("new", "2026-01-01T10:00:05Z"), d("old", "2026-01-01T09:00:00Z")], since)?.id).toBe("new");
  });
});
