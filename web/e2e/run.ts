// End-to-end run of the console against a real server (and, when there is one, a real
// enrolled agent):
//   setup → login → the agent's device is online → open it → hardware and software →
//   run a script from the library → its output appears live → sign out
// and the same for an org-scoped user, who must see only that org's devices.
//
// Environment:
//   BREEZE_URL           the running server (default http://127.0.0.1:3901)
//   BREEZE_SETUP_TOKEN   or BREEZE_DATA_DIR (reads <data-dir>/setup-token) when setup is pending
//   BREEZE_ADMIN_EMAIL / BREEZE_ADMIN_PASSWORD   the admin to create or sign in as
//   BREEZE_DEVICE_HOSTNAME   an enrolled agent's hostname: enables the device and script steps
//   BREEZE_SCRIPT_NAME   a library script to run (created as "e2e echo" when absent)
//   BREEZE_ORG_USER_EMAIL / BREEZE_ORG_USER_PASSWORD  an org-scoped user (optional flow)
//   BREEZE_OTHER_DEVICE_HOSTNAME  a device of another org the org user must not see
//   E2E_ARTIFACTS        screenshot folder (default ../artifacts/screenshots)
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { BREEZE_URL, open, step, type Session } from "./driver";

const env = process.env;
const ADMIN_EMAIL = env.BREEZE_ADMIN_EMAIL ?? "admin@e2e.example";
const ADMIN_PASSWORD = env.BREEZE_ADMIN_PASSWORD ?? "correct horse battery staple";
const DEVICE = env.BREEZE_DEVICE_HOSTNAME;
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

async function adminFlow() {
  const s = await open("admin");
  const { page } = s;
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
    await step("dashboard", async () => {
      await page.waitForLoadState("networkidle");
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
        await page.waitForLoadState("networkidle");
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
        await s.shot("devices");
      });
      await step("device detail: hardware and software", async () => {
        await page.getByRole("link", { name: DEVICE }).first().click();
        await page.getByRole("heading", { name: DEVICE }).waitFor();
        await s.shot("device-overview");
        await page.getByRole("tab", { name: "Hardware" }).click();
        await page.getByText("CPU").first().waitFor();
        await s.shot("device-hardware");
        await page.getByRole("tab", { name: "Software" }).click();
        await waitFor(page, async () => (await page.locator("tbody tr").count()) > 0, "software rows");
        await s.shot("device-software");
      });
      await step("run a script; its output appears live", async () => {
        await page.getByRole("button", { name: "Run script" }).click();
        const dialog = page.getByRole("dialog");
        const select = dialog.getByLabel("Script");
        await select.waitFor();
        const name = SCRIPT ?? (await ensureEchoScript(page));
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
        await s.shot("run-output");
        await dialog.getByRole("button", { name: "Close", exact: true }).first().click();
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
      await page.waitForLoadState("networkidle");
      await s.shot("dashboard-dark");
      await page.getByRole("button", { name: "Switch to light theme" }).click();
    });
    await step("sign out", () => signOut(s));
    return s.problems;
  } catch (e) {
    await s.shot("failure").catch(() => {});
    throw e;
  } finally {
    await s.close();
  }
}

/** Creates a small script that prints a marker, through the editor, and returns its name. */
async function ensureEchoScript(page: Page): Promise<string> {
  const name = "e2e echo";
  const ctx = page.context();
  const editor = await ctx.newPage();
  try {
    await editor.goto(`${BREEZE_URL}/scripts/new`);
    await editor.getByLabel("Name").fill(name);
    const content = editor.getByLabel("Script content");
    await content.click();
    await editor.keyboard.press("Control+A");
    await editor.keyboard.type(`echo ${MARKER}\nuname -a\n`);
    await editor.getByRole("button", { name: "Create" }).click();
    await editor.getByRole("heading", { name }).waitFor();
  } finally {
    await editor.close();
  }
  await page.getByRole("button", { name: "Cancel" }).click();
  await page.getByRole("button", { name: "Run script" }).click();
  await page.getByRole("dialog").getByLabel("Script").waitFor();
  return name;
}

async function orgUserFlow() {
  const email = env.BREEZE_ORG_USER_EMAIL;
  const password = env.BREEZE_ORG_USER_PASSWORD;
  if (!email || !password) {
    console.log("skip org-scoped user flow (BREEZE_ORG_USER_EMAIL/PASSWORD not set)");
    return [];
  }
  const s = await open("org-user");
  try {
    await step("org user: login", () => login(s, email, password));
    await step("org user: sees only the org's devices", async () => {
      await s.page.goto(`${BREEZE_URL}/devices`);
      await s.page.getByRole("heading", { name: "Devices" }).waitFor();
      await s.page.waitForLoadState("networkidle");
      if (DEVICE) await s.page.getByRole("row").filter({ hasText: DEVICE }).first().waitFor();
      const other = env.BREEZE_OTHER_DEVICE_HOSTNAME;
      if (other && (await s.page.getByRole("row").filter({ hasText: other }).count()) > 0) throw new Error(`org user sees ${other}`);
      // No partner-only screens in the menu.
      if ((await s.page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Organizations" }).count()) > 0 && !env.E2E_ORG_USER_IS_ADMIN) {
        console.log("  note: org user can open Organizations (their role holds orgs:read)");
      }
      await s.shot("devices");
    });
    await step("org user: sign out", () => signOut(s));
    return s.problems;
  } finally {
    await s.close();
  }
}

async function main() {
  console.log(`Breeze console e2e against ${BREEZE_URL}`);
  const problems = [...(await adminFlow()), ...(await orgUserFlow())];
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
