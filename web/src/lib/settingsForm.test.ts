import { describe, expect, it } from "vitest";
import type { Me, Settings } from "../api/types";
import { ApiError } from "../api/client";
import { Permissions } from "../auth/permissions";
import { serverErrors, zodErrors } from "./form";
import {
  POLICY_FIELDS,
  SMTP_FIELDS,
  describeSeconds,
  isMailbox,
  policySchema,
  policyUpdate,
  policyValues,
  sectionAliases,
  seesPartnerSettings,
  smtpSchema,
  smtpUpdate,
  smtpValues,
  type PolicyValues,
  type SmtpValues,
} from "./settingsForm";

const defaults = { access_token_secs: 900, refresh_token_days: 30, smtp_configured: true };

const settings: Settings = {
  partner_id: "p",
  smtp: { enabled: true, host: "smtp.acme.test", port: null, tls: "tls", username: "mailer", password_set: true, from: "Acme IT <it@acme.test>" },
  session_policy: { access_token_minutes: 10, session_lifetime_hours: null, idle_timeout_minutes: 30, require_mfa: false },
  server_defaults: defaults,
  updated_at: null,
  updated_by: null,
};

const me = (over: Partial<Me>): Me => ({
  user: { id: "u", email: "a@b.c", name: "A", status: "active", mfa_enabled: false, last_login_at: null, created_at: "2026-01-01T00:00:00Z" },
  scope_level: "partner",
  partner_id: "p",
  org_id: null,
  role: null,
  permissions: ["settings:read"],
  org_access: "all",
  org_ids: null,
  site_ids: null,
  mfa_enrollment_required: false,
  idle_timeout_minutes: null,
  ...over,
});

describe("who sees the partner settings", () => {
  const perms = (p: string[]) => new Permissions(p);
  it("partner-wide staff with settings:read", () => {
    expect(seesPartnerSettings(me({}), perms(["settings:read"]))).toBe(true);
    expect(seesPartnerSettings(me({}), perms(["devices:read"]))).toBe(false);
  });
  it("not staff limited to some organizations, nor organization users (the server answers 404)", () => {
    expect(seesPartnerSettings(me({ org_access: "selected" }), perms(["settings:read"]))).toBe(false);
    expect(seesPartnerSettings(me({ scope_level: "organization", org_access: null }), perms(["settings:*"]))).toBe(false);
    expect(seesPartnerSettings(null, perms(["settings:read"]))).toBe(false);
  });
});

describe("SMTP form", () => {
  const values = (over: Partial<SmtpValues>): SmtpValues => ({ ...smtpValues(settings), ...over });

  it("reads the settings and writes every field back, without touching the stored password", () => {
    const v = smtpValues(settings);
    expect(v).toEqual({ enabled: true, host: "smtp.acme.test", port: "", tls: "tls", username: "mailer", password: "", from: "Acme IT <it@acme.test>" });
    expect(smtpUpdate(v, false)).toEqual({ enabled: true, host: "smtp.acme.test", port: null, tls: "tls", username: "mailer", from: "Acme IT <it@acme.test>" });
    expect("password" in smtpUpdate(v, false)).toBe(false);
  });
  it("sends a typed password, or null to remove the stored one", () => {
    expect(smtpUpdate(values({ password: "pw" }), false).password).toBe("pw");
    expect(smtpUpdate(values({ password: "pw" }), true).password).toBe("pw");
    expect(smtpUpdate(values({}), true).password).toBeNull();
  });
  it("empty optional fields are cleared and a port is a number", () => {
    expect(smtpUpdate(values({ enabled: false, host: " ", username: "", from: "", port: "2525" }), false)).toEqual({
      enabled: false,
      host: null,
      port: 2525,
      tls: "tls",
      username: null,
      from: null,
    });
  });
  it("checks what the server checks, on the same fields", () => {
    expect(zodErrors(smtpSchema, values({}))).toEqual({});
    expect(Object.keys(zodErrors(smtpSchema, values({ port: "0" })))).toEqual(["port"]);
    expect(Object.keys(zodErrors(smtpSchema, values({ port: "70000" })))).toEqual(["port"]);
    expect(Object.keys(zodErrors(smtpSchema, values({ host: "smtp example.com" })))).toEqual(["host"]);
    expect(Object.keys(zodErrors(smtpSchema, values({ from: "not an address" })))).toEqual(["from"]);
    expect(Object.keys(zodErrors(smtpSchema, values({ host: "" })))).toEqual(["host"]);
    expect(zodErrors(smtpSchema, values({ enabled: false, host: "", from: "" }))).toEqual({});
    expect(Object.keys(zodErrors(smtpSchema, values({ username: "", password: "pw" })))).toEqual(["username"]);
  });
  it("knows sender mailboxes", () => {
    expect(isMailbox("it@acme.test")).toBe(true);
    expect(isMailbox("Acme IT <it@acme.test>")).toBe(true);
    expect(isMailbox('"Acme IT" <it@acme.test>')).toBe(true);
    expect(isMailbox("Acme IT")).toBe(false);
    expect(isMailbox("it@acme.test\nBcc: x@y.test")).toBe(false);
  });
  it("puts a server error naming smtp.port on the port field", () => {
    const e = new ApiError(422, "validation", "must be between 1 and 65535", "smtp.port");
    expect(serverErrors(e, SMTP_FIELDS, sectionAliases("smtp", SMTP_FIELDS))).toEqual({ port: "must be between 1 and 65535" });
    const other = new ApiError(502, "smtp_failed", "connection refused");
    expect(serverErrors(other, SMTP_FIELDS, sectionAliases("smtp", SMTP_FIELDS))).toEqual({ _form: "connection refused" });
  });
});

describe("session policy form", () => {
  const schema = policySchema(defaults);
  const values = (over: Partial<PolicyValues>): PolicyValues => ({ ...policyValues(settings), ...over });

  it("empty lifetimes are the server's defaults (null)", () => {
    expect(policyValues(settings)).toEqual({ access_token_minutes: "10", session_lifetime_hours: "", idle_timeout_minutes: "30", require_mfa: false });
    expect(policyUpdate(values({ access_token_minutes: "", idle_timeout_minutes: "" }))).toEqual({
      access_token_minutes: null,
      session_lifetime_hours: null,
      idle_timeout_minutes: null,
      require_mfa: false,
    });
  });
  it("keeps every lifetime within its bounds", () => {
    expect(zodErrors(schema, values({}))).toEqual({});
    expect(Object.keys(zodErrors(schema, values({ access_token_minutes: "4" })))).toEqual(["access_token_minutes"]);
    expect(Object.keys(zodErrors(schema, values({ access_token_minutes: "61" })))).toEqual(["access_token_minutes"]);
    expect(Object.keys(zodErrors(schema, values({ session_lifetime_hours: "0" })))).toEqual(["session_lifetime_hours"]);
    expect(Object.keys(zodErrors(schema, values({ idle_timeout_minutes: "1.5" })))).toEqual(["idle_timeout_minutes"]);
  });
  it("the idle timeout outlasts the access token (the server default when empty) and fits the session", () => {
    expect(Object.keys(zodErrors(schema, values({ access_token_minutes: "", idle_timeout_minutes: "10" })))).toEqual(["idle_timeout_minutes"]);
    expect(zodErrors(schema, values({ access_token_minutes: "", idle_timeout_minutes: "15" }))).toEqual({});
    expect(Object.keys(zodErrors(schema, values({ access_token_minutes: "30", idle_timeout_minutes: "20" })))).toEqual(["idle_timeout_minutes"]);
    expect(Object.keys(zodErrors(schema, values({ session_lifetime_hours: "1", idle_timeout_minutes: "61" })))).toEqual(["idle_timeout_minutes"]);
    expect(zodErrors(schema, values({ session_lifetime_hours: "1", idle_timeout_minutes: "60" }))).toEqual({});
  });
  it("puts the server's session_policy.* errors on their fields", () => {
    const e = new ApiError(422, "validation", "set up two-factor authentication for your own account first", "session_policy.require_mfa");
    expect(serverErrors(e, POLICY_FIELDS, sectionAliases("session_policy", POLICY_FIELDS))).toEqual({
      require_mfa: "set up two-factor authentication for your own account first",
    });
  });
});

describe("durations", () => {
  it("reads naturally", () => {
    expect(describeSeconds(900)).toBe("15 minutes");
    expect(describeSeconds(60)).toBe("1 minute");
    expect(describeSeconds(90)).toBe("90 seconds");
    expect(describeSeconds(7200)).toBe("2 hours");
    expect(describeSeconds(30 * 86400)).toBe("30 days");
  });
});
