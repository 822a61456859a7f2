// Every form a Breeze user has, filled the way a user fills it: open the page from the menu,
// click the button, type into the labelled fields, submit. Each answers what it created and
// checks the result through the API (the API serves only those assertions).
import type { Locator, Page } from "playwright-core";
import { BREEZE_URL, settled, waitFor, type Session } from "./driver";
import { call } from "./seed";

/** Opens a page from the main menu, as a user would. */
export async function nav(page: Page, label: string, heading: string = label) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: label, exact: true }).click();
  await page.getByRole("heading", { name: heading, exact: true }).waitFor();
  await settled(page);
}

/** The dialog on top (the console opens one at a time). */
function dialog(page: Page, name?: string | RegExp): Locator {
  return (name ? page.getByRole("dialog", { name }) : page.getByRole("dialog")).last();
}

/** Chooses an option by its visible text (or the start of it). */
export async function choose(select: Locator, label: string) {
  const labels = await select.locator("option").allTextContents();
  const exact = labels.find((l) => l === label) ?? labels.find((l) => l.startsWith(label));
  if (!exact) throw new Error(`no option “${label}” (have: ${labels.join(", ")})`);
  await select.selectOption({ label: exact });
}

interface Named {
  id: string;
  name: string;
}

export async function findByName<T extends Named>(token: string, path: string, name: string): Promise<T> {
  const sep = path.includes("?") ? "&" : "?";
  const r = await call<{ data: T[] }>(token, "GET", `${path}${sep}limit=200`);
  const found = r.data.find((x) => x.name === name);
  if (!found) throw new Error(`the API has no ${path} named ${name} (has: ${r.data.map((x) => x.name).join(", ")})`);
  return found;
}

export async function setup(s: Session, v: { token: string; partner: string; name: string; email: string; password: string }) {
  const { page } = s;
  await page.goto(`${BREEZE_URL}/`);
  await page.getByRole("heading", { name: "Set up Breeze" }).waitFor();
  await s.shot("setup");
  await page.getByLabel("Setup token").fill(v.token);
  await page.getByLabel("Company (partner) name").fill(v.partner);
  await page.getByLabel("Your name").fill(v.name);
  await page.getByLabel("E-mail").fill(v.email);
  await page.getByLabel("Password", { exact: true }).fill(v.password);
  await page.getByLabel("Repeat the password").fill(v.password);
  await page.getByRole("button", { name: "Create and sign in" }).click();
  // Signed in: the menu is there (a first-run guide may open instead of the dashboard).
  await page.getByRole("button", { name: "Sign out" }).waitFor();
  await settled(page);
  await s.shot("after-setup");
}

export async function login(s: Session, email: string, password: string) {
  const { page } = s;
  await page.goto(`${BREEZE_URL}/login`);
  await page.getByLabel("E-mail").fill(email);
  await page.getByLabel("Password").fill(password);
  await s.shot("login");
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("button", { name: "Sign out" }).waitFor();
}

export async function signOut(s: Session) {
  await s.page.getByRole("button", { name: "Sign out" }).click();
  await s.page.getByRole("heading", { name: "Sign in to Breeze" }).waitFor();
}

export async function createOrg(s: Session, token: string, name: string): Promise<Named> {
  const { page } = s;
  await nav(page, "Organizations");
  await page.getByRole("button", { name: /^(New organization|Create the first one)$/ }).first().click();
  const d = dialog(page, "New organization");
  await d.getByLabel("Name", { exact: true }).fill(name);
  await s.shot("org-form");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  await d.waitFor({ state: "detached" });
  await page.getByRole("button", { name, exact: true }).waitFor();
  const org = await findByName<Named & { status: string }>(token, "/api/v1/orgs", name);
  if (org.status !== "active") throw new Error(`the new organization is ${org.status}, not active`);
  return org;
}

export async function createSite(s: Session, token: string, org: Named, name: string, timezone: string): Promise<Named> {
  const { page } = s;
  await nav(page, "Organizations");
  await page.getByRole("button", { name: org.name, exact: true }).click();
  await page.getByRole("button", { name: "New site" }).click();
  const d = dialog(page, "New site");
  await d.getByLabel("Name", { exact: true }).fill(name);
  // A typed IANA name, or a list of them.
  const tz = d.getByLabel("Time zone");
  if ((await tz.evaluate((el) => el.tagName)) === "SELECT") await tz.selectOption(timezone);
  else await tz.fill(timezone);
  await s.shot("site-form");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  await d.waitFor({ state: "detached" });
  await page.getByText(name, { exact: true }).waitFor();
  const site = await findByName<Named & { timezone: string }>(token, `/api/v1/orgs/${org.id}/sites`, name);
  if (site.timezone !== timezone) throw new Error(`the site's time zone is ${site.timezone}, not ${timezone}`);
  await s.shot("org-with-site");
  return site;
}

export interface FirstRun {
  org: Named;
  site: Named;
  key: Named;
  /** The install one-liner, copied with the wizard's Copy button. */
  command: string;
}

/**
 * The "Getting started" wizard setup leads to: a new organization, a site with its time zone
 * picked from the list, an enrollment key, the install command copied with its Copy button;
 * then its live wait is started (it opens the device page once the device enrolls).
 */
export async function gettingStarted(s: Session, token: string, v: { org: string; site: string; timezone: string; key: string }): Promise<FirstRun> {
  const { page } = s;
  await page.getByRole("heading", { name: "Getting started" }).waitFor();
  await settled(page);
  await s.shot("getting-started-organization");
  await page.getByLabel("Organization name").fill(v.org);
  await page.getByRole("button", { name: "Create organization" }).click();

  await page.getByRole("heading", { name: "A site for the device" }).waitFor();
  await page.getByLabel("Site name").fill(v.site);
  const tz = page.getByLabel("Time zone");
  if ((await tz.evaluate((el) => el.tagName)) !== "SELECT") throw new Error("the site's time zone is not chosen from a list");
  const zones = await tz.locator("option").count();
  if (zones < 100) throw new Error(`the time zone list offers only ${zones} zones`);
  await tz.selectOption(v.timezone);
  await s.shot("getting-started-site");
  await page.getByRole("button", { name: "Create site" }).click();

  await page.getByRole("heading", { name: "An enrollment key" }).waitFor();
  await page.getByLabel("Key name").fill(v.key);
  await page.getByLabel("Expires after (days)").fill("7");
  await s.shot("getting-started-key");
  await page.getByRole("button", { name: "Create enrollment key" }).click();

  await page.getByRole("heading", { name: "Install the agent" }).waitFor();
  const command = await copied(s, page.locator("main"), "Install command");
  if (!/^curl -fsSL \S+\/install\.sh \| sudo sh -s -- --key \S+$/.test(command)) throw new Error(`the install command is not the one-liner: ${command}`);
  await page.getByText("Manual steps", { exact: true }).click();
  const enroll = await page.getByRole("textbox", { name: "Enroll command" }).inputValue();
  const secret = /--key (\S+)/.exec(command)?.[1] ?? "";
  if (!/breeze-agent\s+enroll\b/.test(enroll) || !enroll.includes(secret)) throw new Error(`the manual steps' enroll command is not for this key: ${enroll}`);
  await s.shot("getting-started-install");

  // What the wizard made, through the API.
  const org = await findByName<Named & { status: string }>(token, "/api/v1/orgs", v.org);
  if (org.status !== "active") throw new Error(`the new organization is ${org.status}, not active`);
  const site = await findByName<Named & { timezone: string }>(token, `/api/v1/orgs/${org.id}/sites`, v.site);
  if (site.timezone !== v.timezone) throw new Error(`the site's time zone is ${site.timezone}, not ${v.timezone}`);
  const key = await checkedKey(token, v.key, org, site, null);

  await page.getByRole("button", { name: "Wait for the device" }).click();
  await page.getByRole("heading", { name: "Waiting for the device" }).waitFor();
  await page.getByRole("status").filter({ hasText: "Waiting for a device to enroll" }).waitFor();
  await s.shot("getting-started-wait");
  return { org, site, key, command };
}

/** The enrollment key the console made, as the API holds it. */
async function checkedKey(token: string, name: string, org: Named, site: Named, maxUses: number | null): Promise<Named> {
  const key = await findByName<Named & { org_id: string; site_id: string; max_uses: number | null; expires_at: string | null }>(token, "/api/v1/enrollment-keys", name);
  if (key.org_id !== org.id || key.site_id !== site.id) throw new Error(`the key is for ${key.org_id}/${key.site_id}, not ${org.id}/${site.id}`);
  if (key.max_uses !== maxUses) throw new Error(`the key allows ${key.max_uses} uses, not ${maxUses}`);
  const days = key.expires_at ? (new Date(key.expires_at).getTime() - Date.now()) / 86_400_000 : null;
  if (days === null || days < 6.9 || days > 7.1) throw new Error(`the key expires at ${key.expires_at}, not in 7 days`);
  return key;
}

/** A CopyField's value, copied with its Copy button and read back from the clipboard like a paste. */
async function copied(s: Session, where: Locator, label: string): Promise<string> {
  const shown = await where.getByRole("textbox", { name: label, exact: true }).inputValue();
  await where.getByRole("button", { name: `Copy ${label}`, exact: true }).click();
  await where.getByRole("button", { name: `Copied ${label}`, exact: true }).waitFor();
  const pasted = await s.page.evaluate(() => navigator.clipboard.readText());
  if (pasted !== shown) throw new Error(`the Copy button put “${pasted}” on the clipboard, not the ${label} shown (“${shown}”)`);
  if (label !== "Key" && !pasted.includes(BREEZE_URL)) throw new Error(`the ${label} does not name this server (${BREEZE_URL}): ${pasted}`);
  return pasted;
}

/**
 * Creates an enrollment key on the Enrollment keys page; answers the install command and the
 * key the dialog shows, each copied with its Copy button and read back from the clipboard.
 */
export async function createKey(s: Session, token: string, org: Named, site: Named, name: string): Promise<{ key: Named; command: string; secret: string }> {
  const { page } = s;
  await nav(page, "Enrollment keys");
  await page.getByRole("button", { name: "New key" }).click();
  const d = dialog(page, "New enrollment key");
  await d.getByLabel("Name", { exact: true }).fill(name);
  const orgSelect = d.getByLabel("Organization", { exact: true });
  if (await orgSelect.count()) await choose(orgSelect, org.name);
  await choose(d.getByLabel("Site", { exact: true }), site.name);
  await d.getByLabel("Expires after (days)").fill("7");
  await d.getByLabel("Maximum uses").fill("5");
  await s.shot("key-form");
  await d.getByRole("button", { name: "Create key" }).click();
  const done = dialog(page, "Key created");
  await done.waitFor();
  await s.shot("key-created");
  const command = await copied(s, done, "Install command");
  const secret = await copied(s, done, "Key");
  if (!command.includes(`--key ${secret}`)) throw new Error(`the install command does not carry the key shown: ${command}`);
  await done.getByRole("button", { name: "Done" }).click();
  await done.waitFor({ state: "detached" });
  const key = await checkedKey(token, name, org, site, 5);
  return { key, command, secret };
}

/** The key list's Uses column shows how often the key was used (of its maximum, if any). */
export async function keyUses(s: Session, name: string, uses: number, max: number | null) {
  const { page } = s;
  await nav(page, "Enrollment keys");
  // The count changed on the server since the list was loaded; a user reloads to see it.
  await page.reload();
  await settled(page);
  const row = page.getByRole("row").filter({ hasText: name }).first();
  const want = max === null ? new RegExp(`^${uses}$`) : new RegExp(`^${uses}\\s*/\\s*${max}$`);
  const cell = async () => {
    const headers = await page.getByRole("columnheader").allInnerTexts();
    const i = headers.findIndex((h) => h.trim() === "Uses");
    if (i < 0) throw new Error(`the key list has no Uses column (${headers.join(", ")})`);
    return (await row.getByRole("cell").nth(i).innerText()).trim();
  };
  await waitFor(page, async () => want.test(await cell()), `the key row ${name} to show ${uses}${max === null ? "" : ` / ${max}`} uses`, 5000).catch(async (e) => {
    throw new Error(`${e instanceof Error ? e.message : e}; it shows “${await cell()}”`);
  });
}

export async function createScript(s: Session, token: string, name: string, content: string): Promise<Named> {
  const { page } = s;
  await nav(page, "Scripts");
  await page.getByRole("link", { name: "New script" }).click();
  await page.getByRole("heading", { name: "New script" }).waitFor();
  await page.getByLabel("Name", { exact: true }).fill(name);
  const editor = page.getByLabel("Script content");
  await editor.click();
  await page.keyboard.press("Control+A");
  await page.keyboard.press("Delete");
  await page.keyboard.type(content);
  await s.shot("script-editor");
  await page.getByRole("button", { name: "Create" }).click();
  await page.getByRole("heading", { name }).waitFor();
  const script = await findByName<Named & { id: string }>(token, "/api/v1/scripts", name);
  const full = await call<{ content: string; language: string } | { data: { content: string; language: string } }>(token, "GET", `/api/v1/scripts/${script.id}`);
  const body = "data" in full ? full.data : full;
  if (body.content.trim() !== content.trim()) throw new Error(`the stored script differs from what was typed:\n${body.content}`);
  return script;
}

/** A dynamic group whose rule picks the device by hostname; the preview and the API count it. */
export async function createGroup(s: Session, token: string, org: Named, name: string, hostname: string): Promise<Named> {
  const { page } = s;
  await nav(page, "Device groups");
  await page.getByRole("button", { name: "New group" }).click();
  const d = dialog(page, "New device group");
  await d.getByLabel("Name", { exact: true }).fill(name);
  const orgSelect = d.getByLabel("Organization", { exact: true });
  if (await orgSelect.count()) await choose(orgSelect, org.name);
  await choose(d.getByLabel("Type"), "Dynamic (rules)");
  await choose(d.getByLabel("Condition 1 field"), "Hostname");
  await choose(d.getByLabel("Condition 1 operator"), "is");
  await d.getByLabel("Condition 1 value").fill(hostname);
  await d.getByText(/^1 of \d+ devices? match now\.$/).waitFor();
  await s.shot("group-form");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  await d.waitFor({ state: "detached" });
  await page.getByRole("link", { name, exact: true }).waitFor();
  const group = await findByName<Named & { type: string }>(token, `/api/v1/device-groups?org_id=${org.id}`, name);
  if (group.type !== "dynamic") throw new Error(`the group is ${group.type}, not dynamic`);
  const members = await call<{ device_ids: string[] }>(token, "GET", `/api/v1/device-groups/${group.id}/members`);
  if (members.device_ids.length !== 1) throw new Error(`the API counts ${members.device_ids.length} members, not 1`);
  // The list as it was drawn right after the group was created, and after a reload.
  for (const reload of [false, true]) {
    if (reload) await page.reload();
    await settled(page);
    const row = page.getByRole("row").filter({ hasText: name }).first();
    const count = (await row.locator("td").nth(2).innerText()).trim();
    if (count !== "1") throw new Error(`the group list counts ${count} devices${reload ? " after a reload" : ""}; the group's members are 1`);
  }
  await s.shot("device-groups");
  await page.getByRole("link", { name, exact: true }).click();
  await page.getByRole("heading", { name: "Devices" }).waitFor();
  await page.getByRole("row").filter({ hasText: hostname }).first().waitFor({ timeout: 5000 });
  await s.shot("group-devices");
  return group;
}

/** A custom role for customer users, granting exactly the permissions ticked. */
export async function createRole(s: Session, token: string, name: string, perms: string[]): Promise<Named> {
  const { page } = s;
  await nav(page, "Roles");
  await page.getByRole("button", { name: "New role" }).click();
  const d = dialog(page, "New role");
  await d.getByLabel("Name", { exact: true }).fill(name);
  await d.getByLabel("Description").fill("Looks at devices and runs approved scripts");
  await choose(d.getByLabel("For", { exact: true }), "Customer users (organization)");
  for (const p of perms) await d.getByRole("checkbox", { name: p.replace(":", " "), exact: true }).check();
  await s.shot("role-form");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  await d.waitFor({ state: "detached" });
  await page.getByRole("row").filter({ hasText: name }).first().waitFor();
  const role = await findByName<Named & { scope: string; permissions: string[] }>(token, "/api/v1/roles", name);
  if (role.scope !== "organization") throw new Error(`the role is for ${role.scope}, not organization`);
  const want = [...perms].sort().join(",");
  const got = [...role.permissions].sort().join(",");
  if (want !== got) throw new Error(`the role grants ${got}, not ${want}`);
  await s.shot("roles");
  return role;
}

interface SettingsBody {
  smtp: { enabled: boolean; host: string | null; port: number | null; tls: string; from: string | null };
  session_policy: { session_lifetime_hours: number | null; idle_timeout_minutes: number | null };
}

/** The MSP's SMTP server (the run's loopback sink) and session policy; sends a test e-mail. */
export async function saveSettings(s: Session, token: string, smtp: { port: number; from: string }, policy: { hours: number; idleMinutes: number }) {
  const { page } = s;
  await nav(page, "Settings");
  const mail = page.locator("form").filter({ has: page.getByLabel("Host") });
  await mail.getByLabel("Send mail through this server").check();
  await mail.getByLabel("Host").fill("127.0.0.1");
  await mail.getByLabel("Port").fill(String(smtp.port));
  await choose(mail.getByLabel("Security"), "None");
  await mail.getByLabel("Sender").fill(smtp.from);
  await s.shot("settings-smtp-form");
  await mail.getByRole("button", { name: "Save" }).click();
  await page.getByText("E-mail settings saved.").waitFor();
  let saved = await call<SettingsBody>(token, "GET", "/api/v1/settings");
  const m = saved.smtp;
  if (!m.enabled || m.host !== "127.0.0.1" || m.port !== smtp.port || m.tls !== "none" || m.from !== smtp.from)
    throw new Error(`the API holds other SMTP settings: ${JSON.stringify(m)}`);
  await mail.getByRole("button", { name: "Send test e-mail" }).click();
  await page.getByText(/^A test message went to /).waitFor({ timeout: 30_000 });

  const sessions = page.locator("form").filter({ has: page.getByLabel("Idle timeout (minutes)") });
  await sessions.getByLabel("Session lifetime (hours)").fill(String(policy.hours));
  await sessions.getByLabel("Idle timeout (minutes)").fill(String(policy.idleMinutes));
  await sessions.getByRole("button", { name: "Save" }).click();
  await page.getByText(/^Session policy saved\./).waitFor();
  saved = await call<SettingsBody>(token, "GET", "/api/v1/settings");
  const p = saved.session_policy;
  if (p.session_lifetime_hours !== policy.hours || p.idle_timeout_minutes !== policy.idleMinutes) throw new Error(`the API holds another session policy: ${JSON.stringify(p)}`);
  await s.shot("settings");
}

/** Invites a customer user with a role of their organization; answers the link the dialog shows. */
export async function invite(s: Session, token: string, v: { email: string; name: string; org: Named; role: string }): Promise<string> {
  const { page } = s;
  await nav(page, "Users");
  await page.getByRole("button", { name: "Invite user" }).click();
  const d = dialog(page, "Invite a user");
  await d.getByLabel("E-mail").fill(v.email);
  await d.getByLabel("Name", { exact: true }).fill(v.name);
  await d.getByLabel("Customer user").check();
  await choose(d.getByLabel("Organization", { exact: true }), v.org.name);
  await choose(d.getByLabel("Role"), v.role);
  await s.shot("invite-user");
  await d.getByRole("button", { name: "Send invitation" }).click();
  const created = dialog(page, "Invitation created");
  // SMTP is set up by now: the dialog says the link went out by e-mail.
  if (!/e-?mail/i.test(await created.innerText())) throw new Error(`the invitation dialog does not say the link was e-mailed: ${await created.innerText()}`);
  const link = await copied(s, created, "Invitation link");
  await s.shot("invitation-created");
  await created.getByRole("button", { name: "Done" }).click();
  const r = await call<{ data: Array<{ email: string; status: string; org_id: string | null; role_name: string }> }>(token, "GET", `/api/v1/users?limit=200&q=${encodeURIComponent(v.email)}`);
  const m = r.data.find((x) => x.email === v.email);
  if (!m) throw new Error(`the API lists no user ${v.email}`);
  if (m.status !== "invited" || m.org_id !== v.org.id || !m.role_name.startsWith(v.role)) throw new Error(`the API holds ${JSON.stringify(m)}`);
  return link;
}

/** The Users page lists the admin and the pending invitation. */
export async function usersListed(s: Session, admin: string, invited: string) {
  const { page } = s;
  await nav(page, "Users");
  const table = page.getByRole("table");
  await table.waitFor({ timeout: 5000 });
  await table.getByRole("row").filter({ hasText: admin }).first().waitFor({ timeout: 5000 });
  const row = table.getByRole("row").filter({ hasText: invited }).first();
  await row.waitFor({ timeout: 5000 });
  if (!/invited/i.test(await row.innerText())) throw new Error(`${invited} is listed but not as invited`);
  await s.shot("users");
}
