import { describe, expect, it } from "vitest";
import { permissionHint } from "./permissionMatrix";

describe("permissionHint", () => {
  it("tells device edits from device management", () => {
    expect(permissionHint("devices:write")).toMatch(/name and tags/);
    expect(permissionHint("devices:write")).not.toMatch(/quarantine/);
    expect(permissionHint("devices:admin")).toMatch(/quarantine/);
    expect(permissionHint("devices:admin")).toMatch(/site/);
    expect(permissionHint("alerts:read")).toBeUndefined();
  });
});
