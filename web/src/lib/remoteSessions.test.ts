import { describe, expect, it } from "vitest";
import { formatDuration, idProblem, NO_FILTERS, recordingPage, sessionDuration, sessionQuery, sessionTone } from "./remoteSessions";

describe("sessions list", () => {
  it("sends only the filters that are set", () => {
    expect(sessionQuery(NO_FILTERS, null)).toEqual({ org_id: undefined, device_id: undefined, user_id: undefined, type: undefined, status: undefined });
    expect(sessionQuery({ device_id: "d", user_id: "", type: "terminal", status: "active" }, "o1")).toEqual({ org_id: "o1", device_id: "d", user_id: undefined, type: "terminal", status: "active" });
  });

  it("checks typed-in ids", () => {
    expect(idProblem("")).toBeNull();
    expect(idProblem("0190a0b2-1c3d-7e4f-8a9b-0c1d2e3f4a5b")).toBeNull();
    expect(idProblem("0190a0b2")).toMatch(/UUID/);
  });

  it("formats durations", () => {
    expect(formatDuration(null)).toBe("—");
    expect(formatDuration(0)).toBe("0 s");
    expect(formatDuration(59.9)).toBe("59 s");
    expect(formatDuration(187)).toBe("3 min 07 s");
    expect(formatDuration(7500)).toBe("2 h 05 min");
  });

  it("gives the server's duration once ended, the live one while active", () => {
    const now = Date.parse("2026-12-06T10:00:30Z");
    expect(sessionDuration({ status: "disconnected", started_at: "2026-12-06T10:00:00Z", duration_seconds: 12 }, now)).toBe(12);
    expect(sessionDuration({ status: "active", started_at: "2026-12-06T10:00:00Z", duration_seconds: null }, now)).toBe(30);
    expect(sessionDuration({ status: "pending", started_at: null, duration_seconds: null }, now)).toBeNull();
  });

  it("links the recording only when there is one; colours the status", () => {
    expect(recordingPage({ id: "s1", recording_url: "/api/v1/remote/sessions/s1/recording" })).toBe("/remote/sessions/s1/recording");
    expect(recordingPage({ id: "s1", recording_url: null })).toBeNull();
    expect(sessionTone("active")).toBe("ok");
    expect(sessionTone("failed")).toBe("danger");
  });
});
