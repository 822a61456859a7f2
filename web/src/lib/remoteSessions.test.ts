import { describe, expect, it } from "vitest";
import { formatDuration, NO_FILTERS, recordingPage, remoteLinks, sessionDuration, sessionQuery, sessionTone } from "./remoteSessions";

describe("sessions list", () => {
  it("sends only the filters that are set", () => {
    expect(sessionQuery(NO_FILTERS, null)).toEqual({ org_id: undefined, device_id: undefined, user_id: undefined, type: undefined, status: undefined });
    expect(sessionQuery({ device_id: "d", user_id: "", type: "terminal", status: "active" }, "o1")).toEqual({ org_id: "o1", device_id: "d", user_id: undefined, type: "terminal", status: "active" });
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

describe("remoteLinks", () => {
  const only = (...perms: string[]) => (p: string) => perms.includes(p);
  it("offers Terminal and Files with remote:execute, Desktop with remote_desktop:execute, on an online device", () => {
    expect(remoteLinks("d1", "online", only("remote:execute", "remote_desktop:execute"))).toEqual([
      { label: "Terminal", to: "/devices/d1/terminal" },
      { label: "Files", to: "/devices/d1/files" },
      { label: "Desktop", to: "/devices/d1/desktop" },
    ]);
    expect(remoteLinks("d1", "online", only("remote_desktop:execute")).map((l) => l.label)).toEqual(["Desktop"]);
    expect(remoteLinks("d1", "online", only("remote:read"))).toEqual([]);
  });
  it("offers nothing for a device that is not online", () => {
    for (const s of ["offline", "maintenance", "quarantined", "decommissioned", "awaiting_checkin"]) expect(remoteLinks("d1", s, () => true)).toEqual([]);
  });
});
