// The partner settings forms (Settings page): SMTP and session policy. Inputs are strings;
// these turn them into PATCH bodies, check them the way the server does (so most mistakes
// show before a round trip), and map the server's `smtp.port`-style fields onto the forms.
import { z } from "zod";
import type { Me, ServerDefaults, Settings, SmtpTls, UpdateSessionPolicy, UpdateSmtp } from "../api/types";
import type { Permissions } from "../auth/permissions";

/** Partner settings are a partner-level object: partner staff with every organization see them. */
export function seesPartnerSettings(me: Me | null | undefined, perms: Permissions): boolean {
  return !!me && me.scope_level === "partner" && me.org_access === "all" && perms.can("settings:read");
}

// Bounds, as in crates/core/src/settings.rs.
export const ACCESS_MINUTES = [5, 60] as const;
export const SESSION_HOURS = [1, 8760] as const;
export const IDLE_MINUTES = [5, 43200] as const;

const whole = (v: string) => /^\d+$/.test(v.trim());
const inRange = (v: string, [lo, hi]: readonly [number, number]) => whole(v) && Number(v) >= lo && Number(v) <= hi;
const optionalNumber = (v: string): number | null => (v.trim() === "" ? null : Number(v.trim()));

const EMAIL = /^[^\s@<>]+@[^\s@<>.]+(\.[^\s@<>.]+)*$/;
/** `it@example.com` or `Name <it@example.com>`. */
export function isMailbox(raw: string): boolean {
  const s = raw.trim();
  if (/[\r\n]/.test(s)) return false;
  const m = /^(.*)<([^<>]+)>$/.exec(s);
  if (m) return !/["<>\\]/.test(m[1].trim().replace(/^"(.*)"$/, "$1")) && EMAIL.test(m[2].trim());
  return EMAIL.test(s);
}

export const smtpSchema = z
  .object({
    enabled: z.boolean(),
    host: z
      .string()
      .refine((v) => v.trim() === "" || /^[A-Za-z0-9._:[\]-]{1,253}$/.test(v.trim()), "A host name or IP address like smtp.example.com."),
    port: z.string().refine((v) => v.trim() === "" || inRange(v, [1, 65535]), "A port from 1 to 65535, or empty for the usual one."),
    tls: z.enum(["none", "starttls", "tls"]),
    username: z.string().max(254, "At most 254 characters."),
    /** A new password; empty keeps the stored one. */
    password: z.string().max(1024, "At most 1024 characters.").refine((v) => !/[\r\n]/.test(v), "No line breaks."),
    from: z.string().refine((v) => v.trim() === "" || isMailbox(v), "An address like it@example.com or Name <it@example.com>."),
  })
  .superRefine((v, ctx) => {
    if (v.enabled && !v.host.trim()) ctx.addIssue({ code: "custom", path: ["host"], message: "Required to send mail through your server." });
    if (v.enabled && !v.from.trim()) ctx.addIssue({ code: "custom", path: ["from"], message: "Required to send mail through your server." });
    if (v.password && !v.username.trim()) ctx.addIssue({ code: "custom", path: ["username"], message: "Required with a password." });
  });
export type SmtpValues = z.infer<typeof smtpSchema>;
export const SMTP_FIELDS = ["enabled", "host", "port", "tls", "username", "password", "from"] as const;

export function smtpValues(s: Settings): SmtpValues {
  const tls = (["none", "starttls", "tls"] as const).find((t) => t === s.smtp.tls) ?? "starttls";
  return {
    enabled: s.smtp.enabled,
    host: s.smtp.host ?? "",
    port: s.smtp.port === null ? "" : String(s.smtp.port),
    tls,
    username: s.smtp.username ?? "",
    password: "",
    from: s.smtp.from ?? "",
  };
}

/** The usual port of a TLS mode (what an empty port means). */
export function usualPort(tls: SmtpTls | string): number {
  return tls === "tls" ? 465 : tls === "none" ? 25 : 587;
}

/** The PATCH body: every field as shown; the password only when typed, or null to remove it. */
export function smtpUpdate(v: SmtpValues, removePassword: boolean): UpdateSmtp {
  const body: UpdateSmtp = {
    enabled: v.enabled,
    host: v.host.trim() || null,
    port: optionalNumber(v.port),
    tls: v.tls,
    username: v.username.trim() || null,
    from: v.from.trim() || null,
  };
  if (v.password) body.password = v.password;
  else if (removePassword) body.password = null;
  return body;
}

export interface PolicyValues extends Record<string, unknown> {
  access_token_minutes: string;
  session_lifetime_hours: string;
  idle_timeout_minutes: string;
  require_mfa: boolean;
}
export const POLICY_FIELDS = ["access_token_minutes", "session_lifetime_hours", "idle_timeout_minutes", "require_mfa"] as const;

/** Empty lifetimes are the server's defaults, which the idle timeout is checked against too. */
export function policySchema(defaults: ServerDefaults): z.ZodType<PolicyValues> {
  return z
    .object({
      access_token_minutes: z
        .string()
        .refine((v) => v.trim() === "" || inRange(v, ACCESS_MINUTES), `From ${ACCESS_MINUTES[0]} to ${ACCESS_MINUTES[1]} minutes, or empty for the default.`),
      session_lifetime_hours: z
        .string()
        .refine((v) => v.trim() === "" || inRange(v, SESSION_HOURS), `From ${SESSION_HOURS[0]} to ${SESSION_HOURS[1]} hours, or empty for no limit.`),
      idle_timeout_minutes: z
        .string()
        .refine((v) => v.trim() === "" || inRange(v, IDLE_MINUTES), `From ${IDLE_MINUTES[0]} to ${IDLE_MINUTES[1]} minutes, or empty for none.`),
      require_mfa: z.boolean(),
    })
    .superRefine((v, ctx) => {
      if (!inRange(v.idle_timeout_minutes, IDLE_MINUTES)) return;
      const idle = Number(v.idle_timeout_minutes);
      const accessSecs = inRange(v.access_token_minutes, ACCESS_MINUTES) ? Number(v.access_token_minutes) * 60 : defaults.access_token_secs;
      if (idle * 60 < accessSecs) {
        ctx.addIssue({
          code: "custom",
          path: ["idle_timeout_minutes"],
          message: `At least the access token lifetime (${Math.ceil(accessSecs / 60)} minutes).`,
        });
      } else if (inRange(v.session_lifetime_hours, SESSION_HOURS) && idle > Number(v.session_lifetime_hours) * 60) {
        ctx.addIssue({ code: "custom", path: ["idle_timeout_minutes"], message: "No longer than the session lifetime." });
      }
    });
}

export function policyValues(s: Settings): PolicyValues {
  const p = s.session_policy;
  const str = (n: number | null | undefined) => (n == null ? "" : String(n));
  return {
    access_token_minutes: str(p.access_token_minutes),
    session_lifetime_hours: str(p.session_lifetime_hours),
    idle_timeout_minutes: str(p.idle_timeout_minutes),
    require_mfa: p.require_mfa,
  };
}

export function policyUpdate(v: PolicyValues): UpdateSessionPolicy {
  return {
    access_token_minutes: optionalNumber(v.access_token_minutes),
    session_lifetime_hours: optionalNumber(v.session_lifetime_hours),
    idle_timeout_minutes: optionalNumber(v.idle_timeout_minutes),
    require_mfa: v.require_mfa,
  };
}

/** Maps the server's `section.field` error fields onto a form's own keys. */
export function sectionAliases(section: "smtp" | "session_policy", fields: readonly string[]): Record<string, string> {
  return Object.fromEntries(fields.map((f) => [`${section}.${f}`, f]));
}

/** "90 seconds", "15 minutes", "2 hours", "30 days". */
export function describeSeconds(secs: number): string {
  const unit = (n: number, one: string) => `${n} ${one}${n === 1 ? "" : "s"}`;
  if (secs % 86400 === 0) return unit(secs / 86400, "day");
  if (secs % 3600 === 0) return unit(secs / 3600, "hour");
  if (secs % 60 === 0) return unit(secs / 60, "minute");
  return unit(secs, "second");
}
