// End-to-end run of the console against a real server and a real enrolled agent:
//   setup → login → two customer organizations are created and the real `breeze-agent` is
//   enrolled into one → the agent's device is listed online → a script is written in the
//   library → open the device → hardware and software → run the script → its output appears
//   live → invite a customer user scoped to that organization → sign out
// then the invited user accepts, signs in and must see only their organization's device.
//
// Environment:
//   BREEZE_URL           the running server (default http://127.0.0.1:3901)
//   BREEZE_SETUP_TOKEN   or BREEZE_DATA_DIR (reads <data-dir>/setup-token) when setup is pending
//   BREEZE_ADMIN_EMAIL / BREEZE_ADMIN_PASSWORD   the admin to create or sign in as
//   BREEZE_AGENT_BIN / BREEZE_AGENT_STATE_DIR    the agent to enroll (scripts/browser-e2e.sh
//                        sets both); without them the device, script and org-user steps are skipped
//   BREEZE_DEVICE_HOSTNAME   the agent's hostname when it differs from this machine's
//   BREEZE_SCRIPT_NAME   a library script to run (else "e2e echo" is written in the editor)
//   BREEZE_ORG_USER_EMAIL / BREEZE_ORG_USER_PASSWORD  the customer user to invite
//   E2E_ARTIFACTS        screenshot folder (default ../artifacts/screenshots)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { BREEZE_URL, open, step, type Session } from "./driver";
import { apiLogin, call, seed, type Seed } from "./seed";

const env = process.env;
const ADMIN_EMAIL = env.BREEZE_ADMIN_EMAIL ?? "admin@e2e.example";
const ADMIN_PASSWORD = env.BREEZE_ADMIN_PASSWORD ?? "correct horse battery staple";
/** With a built agent the run enrolls it and checks devices, scripts and the org user. */
const WITH_AGENT = !!env.BREEZE_AGENT_BIN;
let seeded: Seed | null = null;
const ORG_USER_EMAIL = env.BREEZE_ORG_USER_EMAIL ?? "nina@northwind.example";
const ORG_USER_PASSWORD = env.BREEZE_ORG_USER_PASSWORD ?? "northwind dental 2026";
const SCRIPT = env.BREEZE_SCRIPT_NAME;
const MARKER = `breeze-e2e-${Date.now()}`;

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

async function waitFor(page: Page, fn: () => Promise<boolean>, what: string, ms = 30_000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await page.waitForTimeout(250);
  }
  throw new Error(`timed out waiting for ${what}`);
}

/**
 * Waits until the page has loaded and shows no loading indicator. ("networkidle" never comes:
 * the live event stream keeps a request open for as long as the page is signed in.)
 */
async function settled(page: Page) {
  await page.waitForLoadState("load");
  await waitFor(page, async () => (await page.locator('[aria-busy="true"]').count()) === 0, "the page to finish loading");
  await page.waitForTimeout(150);
}

async function login(s: Session, email: string, password: string) {
  const { page } = s;
  await page.goto(`${BREEZE_URL}/login`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await s.shot("login");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
}

async function signOut(s: Session) {
  await s.page.getByRole("button", { name: "Sign out" }).click();
  await s.page.getByRole("heading", { name: "Sign in to Breeze" }).waitFor();
  await s.shot("signed-out");
}

interface AdminResult {
  problems: string[];
  /** The link the invited org user opens to choose a password. */
  inviteLink: string | null;
}

async function adminFlow(): Promise<AdminResult> {
  const s = await open("admin");
  const { page } = s;
  let inviteLink: string | null = null;
  try {
    if (await needsSetup()) {
      await step("first-run setup", async () => {
        await page.goto(`${BREEZE_URL}/`);
        await page.getByRole("heading", { name: "Set up Breeze" }).waitFor();
        await s.shot("setup");
        await page.getByLabel("Setup token").fill(setupToken());
        await page.getByLabel("Company (partner) name").fill("E2E MSP");
        await page.getByLabel("Your name").fill("E2E Admin");
        await page.getByLabel("E-mail").fill(ADMIN_EMAIL);
        await page.getByLabel("Password", { exact: true }).fill(ADMIN_PASSWORD);
        await page.getByLabel("Repeat the password").fill(ADMIN_PASSWORD);
        await page.getByRole("button", { name: "Create and sign in" }).click();
        await page.getByRole("heading", { name: "Dashboard" }).waitFor();
        await s.shot("dashboard-after-setup");
        await signOut(s);
      });
    }
    await step("login", () => login(s, ADMIN_EMAIL, ADMIN_PASSWORD));
    if (WITH_AGENT && !seeded) {
      seeded = await step("two customer organizations; the real agent enrolled into the first", async () => seed(await apiLogin(ADMIN_EMAIL, ADMIN_PASSWORD)));
    }
    const DEVICE = seeded?.device ?? env.BREEZE_DEVICE_HOSTNAME;
    await step("dashboard", async () => {
      await settled(page);
      await s.shot("dashboard");
    });

    for (const [path, heading] of [
      ["/orgs", "Organizations"],
      ["/users", "Users"],
      ["/roles", "Roles"],
      ["/audit", "Audit log"],
      ["/enrollment-keys", "Enrollment keys"],
      ["/device-groups", "Device groups"],
      ["/scripts", "Scripts"],
      ["/settings", "Settings"],
    ] as const) {
      await step(`screen ${path}`, async () => {
        await page.goto(`${BREEZE_URL}${path}`);
        await page.getByRole("heading", { name: heading, exact: true }).waitFor();
        await settled(page);
        await s.shot(path.slice(1));
      });
    }

    if (DEVICE) {
      await step("the agent's device is listed online", async () => {
        await page.goto(`${BREEZE_URL}/devices`);
        await page.getByRole("heading", { name: "Devices" }).waitFor();
        const row = page.getByRole("row").filter({ hasText: DEVICE });
        await row.first().waitFor();
        await waitFor(page, async () => (await row.first().textContent())?.includes("online") ?? false, "the device to be online", 90_000);
        // The partner admin sees both customers' machines (the org user, later, only one).
        if (seeded) await page.getByRole("row").filter({ hasText: seeded.otherDevice }).first().waitFor();
        await s.shot("devices");
      });
      await step("dashboard counts the devices", async () => {
        await page.getByRole("link", { name: "Dashboard" }).click();
        await page.getByText("By operating system").waitFor();
        await page.getByText("Online", { exact: true }).first().waitFor();
        await settled(page);
        await s.shot("dashboard-with-devices");
      });
      const name = SCRIPT ?? (await step("write a script in the library", () => createEchoScript(s)));
      await step("device detail: hardware and software", async () => {
        await page.goto(`${BREEZE_URL}/devices`);
        await page.getByRole("link", { name: DEVICE, exact: true }).first().click();
        await page.getByRole("heading", { name: DEVICE }).waitFor();
        await s.shot("device-overview");
        await page.getByRole("tab", { name: "Hardware" }).click();
        await page.getByText("CPU").first().waitFor();
        await s.shot("device-hardware");
        await page.getByRole("tab", { name: "Software" }).click();
        await waitFor(page, async () => (await page.locator("tbody tr").count()) > 0, "software rows");
        await s.shot("device-software");
      });
      await step("run a script from the library; its output appears live", async () => {
        await page.getByRole("button", { name: "Run script" }).click();
        const dialog = page.getByRole("dialog");
        const select = dialog.getByLabel("Script");
        await select.waitFor();
        const labels = await select.locator("option").allTextContents();
        const label = labels.find((l) => l.startsWith(`${name} (`));
        if (!label) throw new Error(`no script named ${name} in the library (${labels.join(", ")})`);
        await select.selectOption({ label });
        await s.shot("run-dialog");
        await dialog.getByRole("button", { name: /^Run on/ }).click();
        await dialog.getByText(/finished/).waitFor();
        await waitFor(page, async () => (await dialog.getByText(/completed|failed|timeout/).count()) > 0, "the execution to finish", 120_000);
        const out = await dialog.getByTestId("stdout").first().textContent();
        if (!SCRIPT && !out?.includes(MARKER)) throw new Error(`output did not contain ${MARKER}: ${out}`);
        await dialog.getByRole("button", { name: new RegExp(`^${DEVICE}`) }).waitFor();
        await s.shot("run-output");
        await dialog.getByRole("button", { name: "Close", exact: true }).first().click();
      });
      await step("live: a change made elsewhere shows without a reload", async () => {
        await page.getByText("Live", { exact: true }).waitFor();
        const id = new URL(page.url()).pathname.split("/").pop();
        const token = await apiLogin(ADMIN_EMAIL, ADMIN_PASSWORD);
        const post = (action: string) => call(token, "POST", `/api/v1/devices/${id}/${action}`, { reason: "e2e: another technician" });
        await post("maintenance");
        await page.getByRole("button", { name: "End maintenance" }).waitFor({ timeout: 10_000 });
        await s.shot("device-maintenance-live");
        await post("reactivate");
        await page.getByRole("button", { name: "Quarantine" }).waitFor({ timeout: 10_000 });
      });
      await step("quarantine the device, then return it to service", async () => {
        await page.getByRole("button", { name: "Quarantine" }).click();
        const dialog = page.getByRole("dialog");
        await dialog.getByLabel(/Reason/).fill("e2e: suspected compromise");
        await dialog.getByRole("button", { name: "Quarantine" }).click();
        await page.getByRole("button", { name: "Release from quarantine" }).waitFor();
        await page.getByText("quarantined", { exact: true }).first().waitFor();
        await s.shot("device-quarantined");
        await page.getByRole("button", { name: "Release from quarantine" }).click();
        await page.getByRole("dialog").getByRole("button", { name: "Return to service" }).click();
        await page.getByRole("button", { name: "Quarantine" }).waitFor();
        // Seen moments ago, so back online at once (not offline until the next heartbeat).
        await page.getByText("online", { exact: true }).first().waitFor();
      });
    }
    if (seeded) {
      const orgA = seeded.orgA.name;
      inviteLink = await step(`invite a customer user scoped to ${orgA}`, async () => {
        await page.goto(`${BREEZE_URL}/users`);
        await page.getByRole("heading", { name: "Users", exact: true }).waitFor();
        await page.getByRole("button", { name: "Invite user" }).click();
        const dialog = page.getByRole("dialog");
        await dialog.getByLabel("E-mail").fill(ORG_USER_EMAIL);
        await dialog.getByLabel("Name", { exact: true }).fill("Nina Northwind");
        await dialog.getByLabel("Customer user").check();
        await dialog.getByLabel("Organization", { exact: true }).selectOption({ label: orgA });
        const role = dialog.getByLabel("Role");
        const roleLabel = (await role.locator("option").allTextContents()).find((l) => l.startsWith("Org Technician"));
        if (!roleLabel) throw new Error("no Org Technician role to grant");
        await role.selectOption({ label: roleLabel });
        await s.shot("invite-user");
        await dialog.getByRole("button", { name: "Send invitation" }).click();
        const link = page.getByRole("dialog", { name: "Invitation created" }).getByLabel("Invitation link");
        await link.waitFor();
        const value = await link.inputValue();
        await s.shot("invitation-created");
        await page.getByRole("button", { name: "Done" }).click();
        return value;
      });
    }
    await step("narrow screen", async () => {
      await page.setViewportSize({ width: 390, height: 844 });
      await page.goto(`${BREEZE_URL}/devices`);
      await page.getByRole("heading", { name: "Devices" }).waitFor();
      await s.shot("devices-narrow");
      await page.getByRole("button", { name: "Open menu" }).click();
      await s.shot("menu-narrow");
      await page.getByRole("button", { name: "Close menu" }).click();
      await page.setViewportSize({ width: 1280, height: 800 });
    });
    await step("dark theme", async () => {
      await page.getByRole("button", { name: "Switch to dark theme" }).click();
      await page.goto(`${BREEZE_URL}/`);
      await settled(page);
      await s.shot("dashboard-dark");
      await page.getByRole("button", { name: "Switch to light theme" }).click();
    });
    await step("sign out", () => signOut(s));
    return { problems: s.problems, inviteLink };
  } catch (e) {
    await s.shot("failure").catch(() => {});
    throw e;
  } finally {
    await s.close();
  }
}

/** Writes a small script that prints a marker in the library's editor; answers its name. */
async function createEchoScript(s: Session): Promise<string> {
  const { page } = s;
  const name = "e2e echo";
  await page.goto(`${BREEZE_URL}/scripts/new`);
  await page.getByRole("heading", { name: "New script" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill(name);
  const content = page.getByLabel("Script content");
  await content.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type(`echo ${MARKER}\nuname -a\n`);
  await s.shot("script-editor");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name }).waitFor();
  return name;
}

/** The invited customer user: accepts the invitation, signs in, sees only their org's devices. */
async function orgUserFlow(inviteLink: string | null) {
  if (!seeded || !inviteLink) {
    console.log("skip org-scoped user flow (no agent was enrolled, so nothing to compare)");
    return [];
  }
  const { device, otherDevice, otherDeviceId } = seeded;
  const s = await open("org-user");
  const { page } = s;
  try {
    await step("org user: accept the invitation", async () => {
      await page.goto(inviteLink);
      await page.getByLabel("New password").fill(ORG_USER_PASSWORD);
      await page.getByLabel("Repeat the password").fill(ORG_USER_PASSWORD);
      await s.shot("accept-invite");
      await page.getByRole("button", { name: "Create account" }).click();
      // Accepting signs the new user in.
      await page.getByRole("heading", { name: "Dashboard" }).waitFor();
      await settled(page);
      await s.shot("dashboard");
      await signOut(s);
    });
    await step("org user: login", () => login(s, ORG_USER_EMAIL, ORG_USER_PASSWORD));
    await step("org user: sees only the org's devices", async () => {
      await page.goto(`${BREEZE_URL}/devices`);
      await page.getByRole("heading", { name: "Devices" }).waitFor();
      await page.getByRole("row").filter({ hasText: device }).first().waitFor();
      await settled(page);
      if ((await page.getByRole("row").filter({ hasText: otherDevice }).count()) > 0) throw new Error(`org user sees ${otherDevice}`);
      const rows = (await page.getByRole("table", { name: "Devices" }).getByRole("row").count()) - 1;
      if (rows !== 1) throw new Error(`org user sees ${rows} device rows, expected only ${device}`);
      await s.shot("devices");
    });
    await step("org user: another org's device is not found", async () => {
      await page.goto(`${BREEZE_URL}/devices/${otherDeviceId}`);
      await page.getByText(/not found/i).first().waitFor();
      await s.shot("other-device-not-found");
    });
    await step("org user: what the role cannot do is hidden, and refused by the server", async () => {
      await page.goto(`${BREEZE_URL}/orgs`);
      // A customer user has one organization: the page shows it, singular, and its sites.
      await page.getByRole("heading", { name: "Organization", exact: true }).waitFor();
      await page.getByText(seeded!.orgA.name).first().waitFor();
      await s.shot("organization");
      if ((await page.getByText(seeded!.orgB.name).count()) > 0) throw new Error(`org user sees ${seeded!.orgB.name}`);
      await page.goto(`${BREEZE_URL}/users`);
      await page.getByRole("heading", { name: "Users", exact: true }).waitFor();
      await settled(page);
      if ((await page.getByRole("button", { name: "Invite user" }).count()) > 0) throw new Error("an Org Technician is offered Invite user");
      await s.shot("users");
      const token = await apiLogin(ORG_USER_EMAIL, ORG_USER_PASSWORD);
      const r = await fetch(`${BREEZE_URL}/api/v1/users`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify({ email: "eve@northwind.example", name: "Eve", role_id: "00000000-0000-0000-0000-000000000000" }),
      });
      if (r.status !== 403 && r.status !== 404) throw new Error(`the server answered ${r.status} to an Org Technician inviting a user`);
    });
    await step("org user: sign out", () => signOut(s));
    return s.problems;
  } finally {
    await s.close();
  }
}

async function main() {
  console.log(`Breeze console e2e against ${BREEZE_URL}`);
  let problems: string[];
  try {
    const admin = await adminFlow();
    problems = [...admin.problems, ...(await orgUserFlow(admin.inviteLink))];
  } finally {
    seeded?.stop();
  }
  if (problems.length) {
    console.log(`FAIL browser console reported ${problems.length} problem(s):`);
    for (const p of problems) console.log(`  ${p}`);
    process.exit(1);
  }
  console.log("e2e: all steps passed, no console errors or CSP violations");
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
