import { describe, expect, it } from "vitest";
import { describeEvent } from "./deviceEvents";

describe("describeEvent", () => {
  it("keeps the reasons of maintenance and quarantine", () => {
    expect(describeEvent({ event_type: "maintenance", details: { reason: "disk swap", previous_status: "online" } })).toEqual({ title: "Put in maintenance", detail: "Reason: disk swap", tone: "warn" });
    expect(describeEvent({ event_type: "quarantined", details: { reason: "malware", previous_status: "maintenance" } })).toEqual({
      title: "Quarantined (was in maintenance)",
      detail: "Reason: malware",
      tone: "danger",
    });
  });

  it("says what a return to service ended", () => {
    expect(describeEvent({ event_type: "device_reactivated", details: { reason: null, previous_status: "quarantined" } }).title).toBe("Released from quarantine");
    expect(describeEvent({ event_type: "device_reactivated", details: { previous_status: "maintenance" } }).title).toBe("Maintenance ended");
  });

  it("describes status changes and command results", () => {
    expect(describeEvent({ event_type: "online", details: { previous_status: "offline" } }).title).toBe("Back online");
    expect(describeEvent({ event_type: "online", details: { previous_status: "pending" } }).title).toBe("First check-in");
    // The server's record of an enrolled device's first check-in (it was awaiting_checkin).
    expect(describeEvent({ event_type: "first_checkin", details: {} })).toEqual({ title: "First check-in", detail: "The agent started and reported in.", tone: "ok" });
    expect(describeEvent({ event_type: "command_result", details: { type: "run_script", status: "failed", exit_code: 2 } })).toEqual({ title: "Script run failed", detail: "Exit code 2", tone: "danger" });
    expect(describeEvent({ event_type: "command_result", details: { type: "reboot", status: "completed", exit_code: null } })).toEqual({ title: "Reboot completed", detail: null, tone: "ok" });
    expect(describeEvent({ event_type: "command_result", details: { type: "run_script", status: "completed", exit_code: 0 } }, "Disk cleanup").title).toBe("Script “Disk cleanup” completed");
  });

  it("shows an unknown event by its name rather than hiding it", () => {
    expect(describeEvent({ event_type: "trust_level_changed", details: {} })).toEqual({ title: "Trust level changed", detail: null, tone: "muted" });
  });
});
