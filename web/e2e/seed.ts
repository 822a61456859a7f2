// API helpers for the browser run. Everything a user does goes through the console; the API
// serves only the run's assertions and the second customer's machine (a Windows file server
// enrolled through the agent enrollment API with a key made in the console), which the first
// customer's users must never see.
import { createHash, randomBytes } from "node:crypto";
import { BREEZE_URL } from "./driver";

/** A JSON API call; throws with the server's answer unless it is 2xx. */
export async function call<T>(token: string | null, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${BREEZE_URL}${path}`, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path} answered ${r.status}: ${text}`);
  return (text ? JSON.parse(text) : {}) as T;
}

/** Signs in through the API; answers the token pair (the account must not use MFA). */
export async function apiTokens(email: string, password: string): Promise<{ access_token: string; refresh_token: string }> {
  const r = await call<{ access_token?: string; refresh_token?: string }>(null, "POST", "/api/v1/auth/login", { email, password });
  if (!r.access_token || !r.refresh_token) throw new Error(`login for ${email} asked for MFA`);
  return { access_token: r.access_token, refresh_token: r.refresh_token };
}

export async function apiLogin(email: string, password: string): Promise<string> {
  return (await apiTokens(email, password)).access_token;
}

export interface OtherTenant {
  org: { id: string; name: string };
  /** Hostname and id of its device, which the first organization's users must never see. */
  device: string;
  deviceId: string;
}

/**
 * The second customer's machine: a Windows file server enrolled (through the agent
 * enrollment API, as its agent would) with the key made for that customer in the console.
 */
export async function secondTenant(org: { id: string; name: string }, enrollmentKey: string): Promise<OtherTenant> {
  const device = `contoso-fs-${randomBytes(2).toString("hex")}`;
  const r = await call<{ device_id: string }>(null, "POST", "/api/v1/agents/enroll", {
    protocol_version: 1,
    enrollment_key: enrollmentKey,
    hostname: device,
    os_type: "windows",
    os_version: "Windows Server 2022",
    os_build: "20348",
    architecture: "amd64",
    agent_version: "0.1.0",
    fingerprint: createHash("sha256").update(randomBytes(16)).digest("hex"),
    hardware: { cpu_model: "Intel Xeon E-2334", cpu_cores: 4, ram_total_mb: 32768 },
  });
  return { org, device, deviceId: r.device_id };
}
