// Tenants and devices for the browser run, made through the server's public API as an MSP
// admin would script them: two customer organizations, an enrollment key for each, the real
// `breeze-agent` enrolled into the first one and a second machine enrolled into the other.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { hostname } from "node:os";
import { BREEZE_URL } from "./driver";

export interface Seed {
  orgA: { id: string; name: string };
  orgB: { id: string; name: string };
  /** Hostname of the real agent's device (in org A). */
  device: string;
  /** Hostname of org B's device, which org A's users must never see. */
  otherDevice: string;
  otherDeviceId: string;
  stop: () => void;
}

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

async function orgWithKey(token: string, name: string, site: string) {
  const org = await call<{ id: string; name: string }>(token, "POST", "/api/v1/orgs", { name });
  const s = await call<{ id: string }>(token, "POST", `/api/v1/orgs/${org.id}/sites`, { name: site, timezone: "Europe/London" });
  const key = await call<{ key: string; install_command: string }>(token, "POST", "/api/v1/enrollment-keys", {
    org_id: org.id,
    site_id: s.id,
    name: `${name} e2e`,
    max_uses: 5,
    expires_in_hours: 2,
  });
  return { org, key: key.key };
}

/** Starts the real agent: `breeze-agent enroll`, then `breeze-agent run` in the background. */
function startAgent(key: string): ChildProcess {
  const bin = process.env.BREEZE_AGENT_BIN;
  const state = process.env.BREEZE_AGENT_STATE_DIR;
  if (!bin || !state) throw new Error("BREEZE_AGENT_BIN and BREEZE_AGENT_STATE_DIR must name the agent to run");
  mkdirSync(state, { recursive: true });
  const enroll = spawnSync(bin, ["--state-dir", state, "enroll", "--server", BREEZE_URL, "--key", key], { encoding: "utf8" });
  if (enroll.status !== 0) throw new Error(`breeze-agent enroll failed (${enroll.status}): ${enroll.stderr}${enroll.stdout}`);
  const agent = spawn(bin, ["--state-dir", state, "run"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  agent.stderr?.on("data", (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  });
  agent.on("exit", (code, signal) => {
    if (code !== 0 && signal !== "SIGTERM") console.log(`breeze-agent exited (${code ?? signal}); its last output:\n${log}`);
  });
  return agent;
}

/** Enrolls a second machine, a Windows file server, through the agent enrollment API. */
async function enrollOther(key: string, name: string): Promise<string> {
  const r = await call<{ device_id: string }>(null, "POST", "/api/v1/agents/enroll", {
    protocol_version: 1,
    enrollment_key: key,
    hostname: name,
    os_type: "windows",
    os_version: "Windows Server 2022",
    os_build: "20348",
    architecture: "amd64",
    agent_version: "0.1.0",
    fingerprint: createHash("sha256").update(randomBytes(16)).digest("hex"),
    hardware: { cpu_model: "Intel Xeon E-2334", cpu_cores: 4, ram_total_mb: 32768 },
  });
  return r.device_id;
}

export async function seed(adminToken: string): Promise<Seed> {
  const a = await orgWithKey(adminToken, "Northwind Dental", "Main surgery");
  const b = await orgWithKey(adminToken, "Contoso Legal", "Head office");
  const agent = startAgent(a.key);
  const otherDevice = `contoso-fs-${randomBytes(2).toString("hex")}`;
  const otherDeviceId = await enrollOther(b.key, otherDevice);
  return {
    orgA: a.org,
    orgB: b.org,
    device: process.env.BREEZE_DEVICE_HOSTNAME ?? hostname(),
    otherDevice,
    otherDeviceId,
    stop: () => {
      agent.kill("SIGTERM");
    },
  };
}
