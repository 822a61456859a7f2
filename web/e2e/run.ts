// End-to-end run of the console against a real server (empty data directory) and the real
// agent, everything a user does done through the console:
//   setup → the Getting started wizard (organization, site with a time zone from the list,
//   enrollment key, the install command copied with its Copy button) → that command runs on
//   this machine with --no-service → the wizard's live wait opens the device page, which turns
//   online (time to first device) → a second customer's organization, site and key on their
//   own pages (its Windows machine enrolls with that key through the agent API) → the key
//   list's Uses → a script written in the library, run from the device page, its output
//   watched → live changes, quarantine → every device tab against the API → remote access
//   (a terminal from the device page: echo, resize, Ctrl-C, disconnect; the session listed and
//   its recording replayed; the file manager: upload, download, rename, delete, an upload cut
//   half way and resumed) → dynamic device
//   group → custom role → alerting: a webhook channel to a receiver on loopback (secret shown
//   once, "Send test" logged as sent, received and signed), a rule from the builder (a server
//   422 shown in place) that the agent trips, the alert appearing live in an inbox tab that is
//   never reloaded, acknowledged there, its signed webhook, the device's Alerts tab and the
//   dashboard's counts → an automation built in the builder (dynamic group target, a script
//   step then a condition with then/else), run, its step log read → a policy made in the editor,
//   evaluated, its compliance view and failing rule → SMTP and session policy (a loopback mail sink) → invite a customer
//   user → the Users page lists admin and invitation → audit log, narrow screen, dark theme
// then the invited user opens the e-mailed link, chooses a password and must see only their
// organization's device. The API is used only to check results and for the second
// customer's machine, which the first one must never see.
//
// The run fails on any console error, page error, CSP violation or HTTP error answer a step
// did not declare.
//
// Environment:
//   BREEZE_URL           the running server (default http://127.0.0.1:3901)
//   BREEZE_SETUP_TOKEN   or BREEZE_DATA_DIR (reads <data-dir>/setup-token) when setup is pending
//   BREEZE_ADMIN_EMAIL / BREEZE_ADMIN_PASSWORD   the admin to create or sign in as
//   BREEZE_AGENT_BIN / BREEZE_AGENT_STATE_DIR    the agent to install (scripts/browser-e2e.sh sets both)
//   BREEZE_DEVICE_HOSTNAME   the agent's hostname when it differs from this machine's
//   E2E_ARTIFACTS        screenshots and time-to-first-device.txt (default ../artifacts/screenshots)
import { readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { installFromDialog, type Agent } from "./agent";
import { everyTab, openDevice, runScript, serverStreamsOutput } from "./device";
import type { Page } from "playwright-core";
import { ARTIFACTS, BREEZE_URL, noErrorState, open, settled, step, waitFor, type Session } from "./driver";
import { createGroup, createKey, createOrg, createRole, createScript, createSite, gettingStarted, invite, keyUses, login, nav, saveSettings, setup, signOut, usersListed } from "./forms";
import { apiLogin, call, secondTenant, type OtherTenant } from "./seed";
import { decoded, smtpSink, type Sink } from "./smtp";
import { alertElsewhere, ruleTripsLive, webhookChannel, webhookReceiver, type Receiver } from "./alerts";
import { automationRun, policyCompliance, webhookAutomation } from "./automations";
import { filesFlow, recordingFlow, terminalFlow } from "./remote";
import { desktopShowsFrame, startDisplay } from "./desktop";

const env = process.env;
const ADMIN_EMAIL = env.BREEZE_ADMIN_EMAIL ?? "admin@e2e.example";
const ADMIN_PASSWORD = env.BREEZE_ADMIN_PASSWORD ?? "correct horse battery staple";
const ORG_USER_EMAIL = "nina@northwind.example";
const ORG_USER_PASSWORD = "northwind dental 2026";
const DEVICE = env.BREEZE_DEVICE_HOSTNAME ?? hostname();
const ORG = "Northwind Dental";
const KEY = "Northwind rollout";
const OTHER_ORG = "Contoso Legal";
const OTHER_KEY = "Contoso rollout";
const QUARANTINE_REASON = "e2e: suspected compromise";
const SCRIPT = "e2e echo";
const ALERT_RULE = "Memory in use (e2e)";
const GROUP = "Front desk PCs";
const CHECK_SCRIPT = "e2e check (exits 3)";
const AUTOMATION = "Front desk check (e2e)";
const POLICY = "Front desk baseline (e2e)";
const MARK = `breeze-e2e-${Date.now()}`;
const FIRST = `${MARK}-first`;
const LAST = `${MARK}-last`;
/** Prints a line, waits, prints another: long enough to see the first before the end. */
const SCRIPT_CONTENT = `echo ${FIRST}\nsleep 4\necho ${LAST}\nuname -a\n`;

/** Things the run could not prove on this server, printed at the end (not failures). */
const notes: string[] = [];
/** Each browser session's problems (console errors, unexpected error answers): any fails the run. */
const problemLists: string[][] = [];

function setupToken(): string {
  if (env.BREEZE_SETUP_TOKEN) return env.BREEZE_SETUP_TOKEN.trim();
  if (env.BREEZE_DATA_DIR) return readFileSync(join(env.BREEZE_DATA_DIR, "setup-token"), "utf8").trim();
  throw new Error("setup is pending: set BREEZE_SETUP_TOKEN or BREEZE_DATA_DIR");
}

async function needsSetup(): Promise<boolean> {
  const r = await fetch(`${BREEZE_URL}/api/v1/setup/status`);
  if (!r.ok) throw new Error(`GET /api/v1/setup/status answered ${r.status}`);
  return ((await r.json()) as { needs_setup: boolean }).needs_setup;
}

interface AdminResult {
  /** The link the invitation dialog showed. */
  inviteLink: string;
  other: OtherTenant;
  orgId: string;
}

async function adminFlow(sink: Sink, rx: Receiver, t0: number, fresh: boolean, stopLater: (a: Agent) => void): Promise<AdminResult> {
  const s = await open("admin");
  problemLists.push(s.problems);
  const { page } = s;
  try {
    if (fresh) {
      await step("first-run setup in the console", () => setup(s, { token: setupToken(), partner: "E2E MSP", name: "E2E Admin", email: ADMIN_EMAIL, password: ADMIN_PASSWORD }));
    } else {
      await step("login", () => login(s, ADMIN_EMAIL, ADMIN_PASSWORD));
    }
    // The setup form's result: setup is closed and the admin it made can sign in.
    if (await needsSetup()) throw new Error("the server still asks for setup");
    const token = await apiLogin(ADMIN_EMAIL, ADMIN_PASSWORD);
    let org: { id: string; name: string };
    let command: string;
    if (fresh) {
      const first = await step("getting started: organization, site (time zone from the list), enrollment key; the install command copied", () =>
        gettingStarted(s, token, { org: ORG, site: "Main surgery", timezone: "Europe/London", key: KEY }),
      );
      ({ org, command } = first);
    } else {
      // A server set up before: the same forms, on their own pages.
      org = await step("new organization", () => createOrg(s, token, ORG));
      const site = await step("new site", () => createSite(s, token, org, "Main surgery", "Europe/London"));
      command = (await step("new enrollment key; its command copied from the dialog", () => createKey(s, token, org, site, KEY))).command;
    }
    const display = await step("a virtual display for the remote desktop (Xvfb; the agent inherits DISPLAY)", () => startDisplay());
    if (display) stopLater(display);
    const agent = await step("the copied command runs on this machine", async () => installFromDialog(command));
    stopLater(agent);
    console.log(`  agent: ${agent.how}`);
    const device = await step(fresh ? "the wizard's live wait opens the device page; the device comes online" : "the device shows online, live", async () => {
      if (fresh) {
        await page.waitForURL(/\/devices\/[0-9a-f-]{36}$/, { timeout: 120_000 });
      } else {
        await nav(page, "Devices");
        // No reload: the list updates from the live event stream.
        await page.getByRole("link", { name: DEVICE, exact: true }).first().click({ timeout: 90_000 });
      }
      await page.getByRole("heading", { name: DEVICE }).waitFor();
      // The status badge turns online with the first check-in, without a reload.
      await page.getByRole("main").getByText("online", { exact: true }).first().waitFor({ timeout: 90_000 });
      const seconds = (Date.now() - t0) / 1000;
      await s.shot("first-device-online");
      const id = /\/devices\/([0-9a-f-]{36})$/.exec(page.url())?.[1];
      if (!id) throw new Error(`the device page has no device id in its address: ${page.url()}`);
      const d = await call<{ hostname: string; status: string; org_id: string }>(token, "GET", `/api/v1/devices/${id}`);
      if (d.hostname !== DEVICE || d.status !== "online" || d.org_id !== org.id) throw new Error(`the API holds ${JSON.stringify(d)}`);
      if (fresh) {
        const line = `time to first device: ${seconds.toFixed(1)} s (empty data directory → device online, through the console; server already running, builds excluded)`;
        console.log(`  ${line}`);
        writeFileSync(join(ARTIFACTS, "time-to-first-device.txt"), `${seconds.toFixed(1)}\n`);
        notes.push(line);
      } else notes.push("time to first device not measured: the server was already set up");
      return { id };
    });
    await step("the devices list shows it online", async () => {
      await nav(page, "Devices");
      const row = page.getByRole("row").filter({ hasText: DEVICE }).first();
      await waitFor(page, async () => /\bonline\b/.test(await row.innerText()), "the device row to say online");
      if (!(await row.innerText()).includes(ORG)) throw new Error(`the device row does not name its organization ${ORG}`);
    });
    if (display) await step("remote desktop: the console shows the device's screen (artifacts/desktop.png)", () => desktopShowsFrame(s, device.id));

    const otherOrg = await step("a second customer: organization on the Organizations page", () => createOrg(s, token, OTHER_ORG));
    const otherSite = await step("… its site, time zone from the list", () => createSite(s, token, otherOrg, "Head office", "America/New_York"));
    const otherKey = await step("… an enrollment key on the Enrollment keys page; command and key copied", () => createKey(s, token, otherOrg, otherSite, OTHER_KEY));
    const other = await step("… its Windows machine enrolls with that key (agent API)", () => secondTenant(otherOrg, otherKey.secret));
    await step("the partner admin sees both customers' machines; the dashboard counts them", async () => {
      await nav(page, "Devices");
      await page.getByRole("row").filter({ hasText: other.device }).first().waitFor();
      await settled(page);
      await s.shot("devices");
      await otherRowReads(page, other.device);
      await nav(page, "Dashboard");
      await page.getByText("Online", { exact: true }).first().waitFor();
      await settled(page);
      await noErrorState(page, "Dashboard");
      await s.shot("dashboard-with-devices");
    });
    await step("the key list's Uses column counts each key's use", async () => {
      await keyUses(s, KEY, 1, null);
      await keyUses(s, OTHER_KEY, 1, 5);
      await s.shot("enrollment-keys");
    });
    await step("write a script in the library", () => createScript(s, token, SCRIPT, SCRIPT_CONTENT));

    const streams = await serverStreamsOutput();
    await step(`run the script from the device page; its output appears${streams ? " while it runs" : ""}`, async () => {
      await openDevice(page, DEVICE);
      await s.shot("device-overview");
      const r = await runScript(s, SCRIPT, DEVICE, FIRST, LAST);
      if (r.status !== "completed") throw new Error(`the execution ended ${r.status}: ${r.stdout}`);
      if (!r.stdout.includes(FIRST) || !r.stdout.includes(LAST)) throw new Error(`the output lacks the script's lines: ${r.stdout}`);
      if (streams && !r.sawChunkBeforeEnd) throw new Error("the server streams output, but the first line appeared only when the script ended");
      if (!streams) notes.push(`live output: the server's LiveEvent has no output event, so only the final output was checked${r.sawChunkBeforeEnd ? " (a first line did show early)" : ""}`);
      await page.getByRole("dialog").getByRole("button", { name: "Close", exact: true }).first().click();
    });
    await step("live: a change made by another technician shows without a reload", async () => {
      await page.reload();
      await page.getByRole("heading", { name: DEVICE }).waitFor();
      await page.getByText("Live", { exact: true }).waitFor();
      // The other technician is the API; this page is not reloaded.
      const post = (action: string) => call(token, "POST", `/api/v1/devices/${device.id}/${action}`, { reason: "e2e: another technician" });
      await post("maintenance");
      await page.getByRole("button", { name: "End maintenance" }).waitFor({ timeout: 10_000 });
      await s.shot("device-maintenance-live");
      await post("reactivate");
      await page.getByRole("button", { name: "Quarantine" }).waitFor({ timeout: 10_000 });
    });
    await step("quarantine the device, then return it to service", async () => {
      await page.getByRole("button", { name: "Quarantine" }).click();
      const dialog = page.getByRole("dialog");
      await dialog.getByLabel(/Reason/).fill(QUARANTINE_REASON);
      await dialog.getByRole("button", { name: "Quarantine" }).click();
      await page.getByRole("button", { name: "Release from quarantine" }).waitFor();
      await page.getByText("quarantined", { exact: true }).first().waitFor();
      const d = await call<{ status: string }>(token, "GET", `/api/v1/devices/${device.id}`);
      if (d.status !== "quarantined") throw new Error(`the API says ${d.status}`);
      await s.shot("device-quarantined");
      await page.getByRole("button", { name: "Release from quarantine" }).click();
      await page.getByRole("dialog").getByRole("button", { name: "Release", exact: true }).click();
      await page.getByRole("button", { name: "Quarantine" }).waitFor();
      // Seen moments ago, so back online at once (not offline until the next heartbeat).
      await page.getByText("online", { exact: true }).first().waitFor();
    });
    await step("every device tab shows what the API holds", () => everyTab(s, token, device.id, { script: SCRIPT, reasons: [`Reason: ${QUARANTINE_REASON}`] }));
    const term = await step("remote: a terminal from the device page; echo hello-<random> answers; the window resized and stty size follows; Ctrl-C stops sleep 100; Disconnect ends the session", () =>
      terminalFlow(s, token, { device: DEVICE, deviceId: device.id }),
    );
    await step("remote: the session in Remote sessions; its recording replays the hello line (skip to end, then 4×)", () => recordingFlow(s, token, { ...term, device: DEVICE }));
    await step("remote: file manager: upload through the file input (progress to 100 %), listed, downloaded byte for byte as the API serves it, renamed, deleted after the confirmation; a 9 MiB upload cut after its first chunk resumes from HEAD's size with Resume and verifies whole; a missing folder says Not found", () =>
      filesFlow(s, token, { device: DEVICE, deviceId: device.id }),
    );
    await step("a dynamic device group picks the device by its hostname", () => createGroup(s, token, org, GROUP, DEVICE));
    await step("a custom role for customer users", () => createRole(s, token, "Helpdesk viewer", ["devices:read", "scripts:read", "scripts:execute"]));
    const hook = await step("alerting: a webhook channel to this run's receiver; its secret shown once; Send test logged as sent, received and signed", () =>
      webhookChannel(s, token, org, "Ops webhook", rx),
    );
    const alerting = await step("alerting: a rule from the builder (a server 422 shown in place); the agent trips it; the alert appears live in an inbox tab, is acknowledged there; its webhook arrives signed", () =>
      ruleTripsLive(s, token, { org, rule: ALERT_RULE, channel: hook.channel, device: DEVICE, deviceId: device.id, email: ADMIN_EMAIL, password: ADMIN_PASSWORD, secret: hook.secret, rx }),
    );
    await step("alerting: the device's Alerts tab and the dashboard's open-alert counts", () => alertElsewhere(s, { device: DEVICE, deviceId: device.id, rule: alerting.rule.name }));
    await step("automations: a script that prints a marker and exits 3", () => createScript(s, token, CHECK_SCRIPT, `echo ${MARK}-automation\nexit 3\n`));
    await step("automations: built in the builder (manual trigger, the dynamic group as target, run_script then a condition with then/else steps), run with Run now; its step log shows exit code 3, the output and the else branch", () =>
      automationRun(s, token, { org, name: AUTOMATION, group: GROUP, script: CHECK_SCRIPT, marker: `${MARK}-automation`, device: DEVICE, deviceId: device.id }),
    );
    await step("automations: a webhook automation shows its URL and secret once (copied); a signed call starts a run the history shows; a replay is refused (409), a bad signature too (401)", () =>
      webhookAutomation(s, token, { org, name: "Inbound ticket (e2e)", device: DEVICE }),
    );
    await step("policies: made in the editor (a package the device lacks, a file it has), evaluated now; the compliance view shows the device non-compliant and the failing rule", () =>
      policyCompliance(s, token, { org, name: POLICY, device: DEVICE, deviceId: device.id, absentPackage: "breeze-e2e-absent-package" }),
    );
    await step("settings: the MSP's SMTP server (sends a test e-mail) and session policy", async () => {
      await saveSettings(s, token, { port: sink.port, from: "E2E MSP <it@e2e.example>" }, { hours: 720, idleMinutes: 240 });
      await sink.waitFor(ADMIN_EMAIL, /./);
    });
    const inviteLink = await step(`invite a customer user of ${ORG}`, () => invite(s, token, { email: ORG_USER_EMAIL, name: "Nina Northwind", org, role: "Org Technician" }));
    await step("the Users page lists the admin and the pending invitation", () => usersListed(s, ADMIN_EMAIL, ORG_USER_EMAIL));
    await step("the audit log", async () => {
      await nav(page, "Audit log");
      await noErrorState(page, "Audit log");
      await s.shot("audit");
    });
    await step("narrow screen (390 × 844): devices list, device page, menu", async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${BREEZE_URL}/devices`);
      await page.getByRole("heading", { name: "Devices" }).waitFor();
      await settled(page);
      await s.shot("devices-narrow");
      await otherRowReads(page, other.device);
      await page.getByRole("link", { name: DEVICE, exact: true }).first().click();
      await page.getByRole("heading", { name: DEVICE }).waitFor();
      await settled(page);
      await s.shot("device-narrow");
      await page.getByRole("button", { name: "Open menu" }).click();
      await s.shot("menu-narrow");
      await page.getByRole("button", { name: "Close menu" }).click();
      await page.setViewportSize({ width: 1280, height: 800 });
    });
    await step("dark theme", async () => {
      await page.getByRole("button", { name: "Switch to dark theme" }).click();
      await nav(page, "Dashboard");
      await s.shot("dashboard-dark");
      await page.getByRole("button", { name: "Switch to light theme" }).click();
    });
    await step("sign out", async () => {
      await signOut(s);
      await s.shot("signed-out");
    });
    return { inviteLink, other, orgId: org.id };
  } catch (e) {
    await s.shot("failure").catch(() => {});
    throw e;
  } finally {
    await s.close();
  }
}

/**
 * The second customer's machine enrolled and never checked in; its row (a table row, or a card
 * on a narrow screen) says so in words and names its OS once.
 */
async function otherRowReads(page: Page, hostname: string) {
  const text = (await page.getByRole("row").filter({ hasText: hostname }).first().innerText()).replace(/\s+/g, " ");
  if (!text.includes("waiting for first check-in")) throw new Error(`the row of ${hostname} does not say “waiting for first check-in”: ${text}`);
  if (!text.includes("Windows Server 2022") || /Windows Windows/.test(text)) throw new Error(`the row of ${hostname} does not name its OS once: ${text}`);
}

/** The invited customer user: opens the e-mailed link, signs in, sees only their org's device. */
async function orgUserFlow(sink: Sink, admin: AdminResult) {
  const { other } = admin;
  const s = await open("org-user");
  problemLists.push(s.problems);
  const { page } = s;
  try {
    const link = await step("org user: the invitation arrives by e-mail with the link the dialog showed", async () => {
      const mail = await sink.waitFor(ORG_USER_EMAIL, /accept-invite\?token=/);
      const link = /https?:\/\/\S+\/accept-invite\?token=[^\s"<>]+/.exec(decoded(mail.data))?.[0];
      if (!link) throw new Error(`no link in the invitation mail:\n${decoded(mail.data)}`);
      if (decodeURIComponent(link) !== decodeURIComponent(admin.inviteLink)) throw new Error(`the mail links ${link}, the dialog showed ${admin.inviteLink}`);
      return link;
    });
    await step("org user: accept the invitation", async () => {
      await page.goto(link);
      await page.getByLabel("New password").fill(ORG_USER_PASSWORD);
      await page.getByLabel("Repeat the password").fill(ORG_USER_PASSWORD);
      await s.shot("accept-invite");
      await page.getByRole("button", { name: "Create account" }).click();
      // Accepting signs the new user in.
      await page.getByRole("button", { name: "Sign out" }).waitFor();
      const users = await call<{ data: Array<{ email: string; status: string }> }>(await apiLogin(ADMIN_EMAIL, ADMIN_PASSWORD), "GET", `/api/v1/users?limit=200&q=${encodeURIComponent(ORG_USER_EMAIL)}`);
      const status = users.data.find((u) => u.email === ORG_USER_EMAIL)?.status;
      if (status !== "active") throw new Error(`after accepting, the API says the user is ${status}`);
      await settled(page);
      await s.shot("dashboard");
      await signOut(s);
    });
    await step("org user: login", () => login(s, ORG_USER_EMAIL, ORG_USER_PASSWORD));
    await step("org user: sees only the org's devices", async () => {
      await nav(page, "Devices");
      await page.getByRole("row").filter({ hasText: DEVICE }).first().waitFor();
      await settled(page);
      if ((await page.getByRole("row").filter({ hasText: other.device }).count()) > 0) throw new Error(`org user sees ${other.device}`);
      const rows = (await page.getByRole("table", { name: "Devices" }).getByRole("row").count()) - 1;
      if (rows !== 1) throw new Error(`org user sees ${rows} device rows, expected only ${DEVICE}`);
      await s.shot("devices");
    });
    await step("org user: another org's device is not found", () =>
      s.expecting([{ status: 404, path: new RegExp(`^/api/v1/devices/${other.deviceId}(/|$|\\?)`), method: "GET", why: "another organization's device" }], async () => {
        await page.goto(`${BREEZE_URL}/devices/${other.deviceId}`);
        await page.getByText(/not found/i).first().waitFor();
        await s.shot("other-device-not-found");
      }),
    );
    await step("org user: what the role cannot do is hidden, and refused by the server", async () => {
      await nav(page, "Organizations", "Organization");
      await page.getByText(ORG).first().waitFor();
      await s.shot("organization");
      if ((await page.getByText(other.org.name).count()) > 0) throw new Error(`org user sees ${other.org.name}`);
      await usersHidden(s);
      const token = await apiLogin(ORG_USER_EMAIL, ORG_USER_PASSWORD);
      const r = await fetch(`${BREEZE_URL}/api/v1/users`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ email: "eve@northwind.example", name: "Eve", role_id: "00000000-0000-0000-0000-000000000000" }),
      });
      if (r.status !== 403 && r.status !== 404) throw new Error(`the server answered ${r.status} to an Org Technician inviting a user`);
    });
    await step("org user: sign out", () => signOut(s));
  } finally {
    await s.close();
  }
}

/** An Org Technician's Users page offers no "Invite user". */
async function usersHidden(s: Session) {
  const { page } = s;
  if (!(await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Users", exact: true }).count())) return;
  await nav(page, "Users");
  if ((await page.getByRole("button", { name: "Invite user" }).count()) > 0) throw new Error("an Org Technician is offered Invite user");
  await s.shot("users");
}

function printProblems(): number {
  const problems = problemLists.flat();
  if (problems.length) {
    console.log(`\nFAIL the browser reported ${problems.length} problem(s):`);
    for (const p of problems) console.log(`  ${p}`);
  }
  return problems.length;
}

async function main() {
  console.log(`Breeze console e2e against ${BREEZE_URL}`);
  if (!env.BREEZE_AGENT_STATE_DIR) throw new Error("BREEZE_AGENT_BIN and BREEZE_AGENT_STATE_DIR must name the agent (scripts/browser-e2e.sh sets both)");
  const sink = await smtpSink();
  const rx = await webhookReceiver();
  const agents: Agent[] = [];
  try {
    const fresh = await needsSetup();
    const t0 = Date.now();
    const admin = await adminFlow(sink, rx, t0, fresh, (a) => agents.push(a));
    await orgUserFlow(sink, admin);
  } catch (e) {
    printProblems();
    throw e;
  } finally {
    for (const a of agents) a.stop();
    await sink.close();
    await rx.close();
  }
  if (notes.length) console.log(`\nNotes:\n${notes.map((n) => `  ${n}`).join("\n")}`);
  if (printProblems()) process.exit(1);
  console.log(`\ne2e: all steps passed, no console errors, CSP violations or unexpected error answers`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
