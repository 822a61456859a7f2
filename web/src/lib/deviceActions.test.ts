import { describe, expect, it } from "vitest";
import { deviceActions } from "./deviceActions";

const all = () => true;

describe("deviceActions", () => {
  it("offers no script or command on a quarantined device, only its release", () => {
    const a = deviceActions({ status: "quarantined" }, all);
    expect(a.main).toEqual(["edit", "release"]);
    expect(a.more).toEqual(["decommission"]);
  });

  it("keeps quarantine reachable in maintenance, next to ending it", () => {
    const a = deviceActions({ status: "maintenance" }, all);
    expect(a.main).toEqual(["run", "edit", "reboot", "end_maintenance", "quarantine"]);
    expect(a.more).toEqual(["refresh_inventory", "decommission"]);
  });

  it("puts decommissioning in the overflow menu of a device in service", () => {
    const a = deviceActions({ status: "online" }, all);
    expect(a.main).toEqual(["run", "edit", "reboot", "maintenance", "quarantine"]);
    expect(a.more).toEqual(["refresh_inventory", "decommission"]);
  });

  it("offers nothing that needs the agent before it has enrolled, and nothing once decommissioned", () => {
    expect(deviceActions({ status: "pending" }, all)).toEqual({ main: ["edit", "quarantine"], more: ["decommission"] });
    expect(deviceActions({ status: "decommissioned" }, all)).toEqual({ main: [], more: [] });
  });

  it("follows the caller's permissions", () => {
    const a = deviceActions({ status: "online" }, (p) => p === "devices:write");
    expect(a).toEqual({ main: ["edit"], more: [] });
  });
});
