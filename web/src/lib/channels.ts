// Notification channel configuration: the form's fields per type, and the `config` JSON the
// server takes (CreateNotificationChannel in crates/proto/src/api/alerts.rs):
// email `{"to": [...]}`, webhook `{"url", "headers"?}`, slack/teams `{"url"}`,
// pagerduty `{"routing_key"}`, sms `{"url", "to": [...], "token"?}`.
import { isObj, type ChannelType } from "./alerts";

export interface ChannelForm {
  name: string;
  org_id: string;
  type: ChannelType;
  enabled: boolean;
  /** E-mail addresses or phone numbers, one per line or comma separated. */
  to: string;
  url: string;
  /** `Name: value` lines. */
  headers: string;
  routing_key: string;
  token: string;
}

export const EMPTY_CHANNEL_FORM: ChannelForm = { name: "", org_id: "", type: "email", enabled: true, to: "", url: "", headers: "", routing_key: "", token: "" };

export type ChannelErrors = Partial<Record<keyof ChannelForm, string>>;

const list = (s: string) =>
  s
    .split(/[\n,;]/)
    .map((x) => x.trim())
    .filter(Boolean);

export function parseHeaders(s: string): { headers: Record<string, string>; error?: string } {
  const headers: Record<string, string> = {};
  for (const [i, raw] of s.split("\n").entries()) {
    const line = raw.trim();
    if (!line) continue;
    const colon = line.indexOf(":");
    const name = colon > 0 ? line.slice(0, colon).trim() : "";
    if (!name || !/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/.test(name)) return { headers, error: `Line ${i + 1}: write it as Name: value.` };
    headers[name] = line.slice(colon + 1).trim();
  }
  return { headers };
}

/**
 * The `config` to send, or the errors to show. When editing, an empty credential (routing
 * key, token, a chat webhook URL the server does not return) is left out: the server keeps it.
 */
export function buildChannelConfig(f: ChannelForm, editing: boolean): { config: Record<string, unknown>; errors: ChannelErrors } {
  const errors: ChannelErrors = {};
  const config: Record<string, unknown> = {};
  const needUrl = (keepable: boolean) => {
    const url = f.url.trim();
    if (!url) {
      if (!(editing && keepable)) errors.url = "Enter the URL.";
      return;
    }
    if (!/^https?:\/\/\S+$/i.test(url)) errors.url = "Enter an http:// or https:// URL.";
    config.url = url;
  };
  switch (f.type) {
    case "email": {
      const to = list(f.to);
      if (to.length === 0) errors.to = "Enter at least one address.";
      else if (to.some((a) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(a))) errors.to = `Not an e-mail address: ${to.find((a) => !/^[^@\s]+@[^@\s]+\.[^@\s]+$/.test(a))}`;
      config.to = to;
      break;
    }
    case "webhook": {
      needUrl(false);
      const h = parseHeaders(f.headers);
      if (h.error) errors.headers = h.error;
      if (Object.keys(h.headers).length) config.headers = h.headers;
      break;
    }
    case "slack":
    case "teams":
      needUrl(true);
      break;
    case "pagerduty":
      if (f.routing_key.trim()) config.routing_key = f.routing_key.trim();
      else if (!editing) errors.routing_key = "Enter the routing key.";
      break;
    case "sms": {
      needUrl(false);
      const to = list(f.to);
      if (to.length === 0) errors.to = "Enter at least one number.";
      config.to = to;
      if (f.token.trim()) config.token = f.token.trim();
      break;
    }
  }
  return { config, errors };
}

const strs = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);

/** The stored configuration (credentials already left out by the server) as form fields. */
export function configToForm(config: unknown): Omit<ChannelForm, "name" | "org_id" | "type" | "enabled"> {
  const c = isObj(config) ? config : {};
  const headers = isObj(c.headers) ? Object.entries(c.headers).map(([k, v]) => `${k}: ${String(v)}`).join("\n") : "";
  return { to: strs(c.to).join("\n"), url: typeof c.url === "string" ? c.url : "", headers, routing_key: "", token: "" };
}

/** Where a channel sends to, for the list ("ops@example.com", "hooks.example.com"). */
export function channelSummary(type: string, config: unknown): string {
  const c = isObj(config) ? config : {};
  const to = strs(c.to);
  let host = "";
  if (typeof c.url === "string") {
    try {
      host = new URL(c.url).host;
    } catch {
      host = c.url;
    }
  }
  if (type === "email") return to.join(", ") || "—";
  if (type === "sms") return [to.join(", "), host && `via ${host}`].filter(Boolean).join(" ") || "—";
  if (type === "pagerduty") return "PagerDuty Events API v2";
  return host || "—";
}
