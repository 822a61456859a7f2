import { describe, expect, it } from "vitest";
import { Permissions, visibleNav, isPartnerUser, permissionsOf } from "./permissions";
import type { Me } from "../api/types";

const me = (permissions: string[], scope_level = "organization"): Me => ({
  user: { id: "u", email: "a@b.c", name: "A", status: "active", mfa_enabled: false, last_login_at: null, created_at: "2026-01-01T00:00:00Z" },
  scope_level,
  partner_id: null,
  org_id: "o",
  role: null,
  permissions,
  org_access: null,
  org_ids: null,
  site_ids: null,
  mfa_enrollment_required: false,
  idle_timeout_minutes: null,
});

describe("Permissions", () => {
  it("grants exactly what is listed", () => {
    const p = new Permissions(["devices:read", "scripts:execute"]);
    expect(p.can("devices:read")).toBe(true);
    expect(p.can("devices:write")).toBe(false);
    expect(p.can("scripts:execute")).toBe(true);
    expect(p.canAny("users:read", "scripts:execute")).toBe(true);
    expect(p.canAny("users:read", "roles:read")).toBe(false);
  });
  it("understands * wildcards", () => {
    expect(new Permissions(["devices:*"]).can("devices:delete")).toBe(true);
    expect(new Permissions(["*:read"]).can("audit:read")).toBe(true);
    expect(new Permissions(["*:read"]).can("audit:write")).toBe(false);
    expect(new Permissions(["*:*"]).can("partners:admin")).toBe(true);
  });
  it("admin does not imply other actions (the server checks exact pairs)", () => {
    expect(new Permissions(["devices:admin"]).can("devices:delete")).toBe(false);
  });
  it("nobody signed in can do nothing", () => {
    expect(permissionsOf(null).can("devices:read")).toBe(false);
  });
});

describe("navigation gating", () => {
  it("a viewer without users/roles/audit sees no admin screens", () => {
    const nav = visibleNav(permissionsOf(me(["devices:read", "scripts:read"]))).map((n) => n.to);
    expect(nav).toEqual(["/", "/devices", "/scripts", "/settings"]);
  });
  it("an admin sees everything", () => {
    const all = ["devices", "scripts", "enrollment_keys", "device_groups", "orgs", "users", "roles", "audit", "alerts"].map((r) => `${r}:read`);
    expect(visibleNav(permissionsOf(me(all))).length).toBe(14);
  });
  it("alerting screens need alerts:read", () => {
    const nav = visibleNav(permissionsOf(me(["alerts:read"]))).map((n) => n.to);
    expect(nav).toEqual(["/", "/alerts", "/alert-rules", "/notification-channels", "/escalation-policies", "/settings"]);
  });
  it("automations and policies need automations:read", () => {
    const nav = visibleNav(permissionsOf(me(["automations:read"]))).map((n) => n.to);
    expect(nav).toEqual(["/", "/automations", "/policies", "/settings"]);
  });
  it("remote sessions need remote:read", () => {
    const nav = visibleNav(permissionsOf(me(["remote:read"]))).map((n) => n.to);
    expect(nav).toEqual(["/", "/remote/sessions", "/settings"]);
    expect(visibleNav(permissionsOf(me(["remote:execute"]))).map((n) => n.to)).not.toContain("/remote/sessions");
  });
  it("partner and system users may switch organizations", () => {
    expect(isPartnerUser(me([], "partner"))).toBe(true);
    expect(isPartnerUser(me([], "system"))).toBe(true);
    expect(isPartnerUser(me([], "organization"))).toBe(false);
  });
});
