// Permission gating: `Me.permissions` holds `resource:action` strings. The UI hides what a
// user cannot do; the server refuses it regardless.
import type { Me } from "../api/types";

export type Resource =
  | "partners"
  | "orgs"
  | "sites"
  | "users"
  | "roles"
  | "devices"
  | "device_groups"
  | "scripts"
  | "alerts"
  | "automations"
  | "audit"
  | "enrollment_keys"
  | "remote"
  | "remote_desktop"
  | "settings"
  | "api_keys";
export type Action = "read" | "write" | "delete" | "execute" | "admin";
export type Perm = `${Resource}:${Action}`;

export class Permissions {
  private readonly set: Set<string>;
  constructor(perms: readonly string[]) {
    this.set = new Set(perms);
  }
  /** `*` stands for every resource or every action. */
  can(perm: Perm): boolean {
    const [resource, action] = perm.split(":");
    return (
      this.set.has(perm) ||
      this.set.has(`${resource}:*`) ||
      this.set.has(`*:${action}`) ||
      this.set.has("*:*")
    );
  }
  canAny(...perms: Perm[]): boolean {
    return perms.some((p) => this.can(p));
  }
}

export const NO_PERMISSIONS = new Permissions([]);

export function permissionsOf(me: Me | null | undefined): Permissions {
  return me ? new Permissions(me.permissions) : NO_PERMISSIONS;
}

/** True for staff of a partner (or the platform) who may switch between organizations. */
export function isPartnerUser(me: Me | null | undefined): boolean {
  return me?.scope_level === "partner" || me?.scope_level === "system";
}

export interface NavItem {
  to: string;
  label: string;
  /** Shown when the user holds any of these. Empty = always. */
  anyOf: Perm[];
  group: "main" | "manage" | "admin";
  /** A count shown beside the label (`alerts`: open alerts). */
  badge?: "alerts";
}

export const NAV: NavItem[] = [
  { to: "/", label: "Dashboard", anyOf: [], group: "main" },
  { to: "/devices", label: "Devices", anyOf: ["devices:read"], group: "main" },
  { to: "/alerts", label: "Alerts", anyOf: ["alerts:read"], group: "main", badge: "alerts" },
  { to: "/scripts", label: "Scripts", anyOf: ["scripts:read"], group: "main" },
  { to: "/automations", label: "Automations", anyOf: ["automations:read"], group: "main" },
  { to: "/policies", label: "Policies", anyOf: ["automations:read"], group: "main" },
  { to: "/remote/sessions", label: "Remote sessions", anyOf: ["remote:read"], group: "main" },
  { to: "/enrollment-keys", label: "Enrollment keys", anyOf: ["enrollment_keys:read"], group: "manage" },
  { to: "/device-groups", label: "Device groups", anyOf: ["device_groups:read"], group: "manage" },
  { to: "/alert-rules", label: "Alert rules", anyOf: ["alerts:read"], group: "manage" },
  { to: "/notification-channels", label: "Notification channels", anyOf: ["alerts:read"], group: "manage" },
  { to: "/escalation-policies", label: "Escalation policies", anyOf: ["alerts:read"], group: "manage" },
  { to: "/orgs", label: "Organizations", anyOf: ["orgs:read"], group: "manage" },
  { to: "/users", label: "Users", anyOf: ["users:read"], group: "admin" },
  { to: "/roles", label: "Roles", anyOf: ["roles:read"], group: "admin" },
  { to: "/audit", label: "Audit log", anyOf: ["audit:read"], group: "admin" },
  { to: "/settings", label: "Settings", anyOf: [], group: "admin" },
];

export function visibleNav(perms: Permissions): NavItem[] {
  return NAV.filter((n) => n.anyOf.length === 0 || perms.canAny(...n.anyOf));
}
