// Automations and policies through the console, on the real agent: an automation built in the
// builder (manual trigger, targets = the run's dynamic group, a run_script step whose script
// exits 3, then a condition on exit code 0 whose else branch tags the device), run with
// Run now, its run page read (step statuses, exit code, output, the branch taken); and a
// policy made in the editor (one rule the device breaks, one it meets), evaluated with
// "Evaluate now", its compliance view showing the device non-compliant and the drill-down
// naming the failing rule. The API only checks the results.
import { createHmac } from "node:crypto";
import type { Locator, Page } from "playwright-core";
import { BREEZE_URL, settled, waitFor, type Session } from "./driver";
import { choose, findByName, nav } from "./forms";
import { call } from "./seed";

interface Named {
  id: string;
  name: string;
}

/** JSON with object keys sorted (the server stores JSON objects with sorted keys). */
function canon(v: unknown): string {
  return JSON.stringify(v, (_, x: unknown) => (x && typeof x === "object" && !Array.isArray(x) ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b))) : x));
}

/** An item of a builder list by its accessible name (the step or rule's own `<li>`). */
const item = (within: Page | Locator, name: string): Locator => within.getByRole("listitem", { name, exact: true });

interface StepLog {
  index: number;
  path: string;
  type: string;
  status: string;
  exit_code?: number | null;
  output?: string | null;
  message?: string | null;
}
interface RunDetail {
  id: string;
  status: string;
  devices_targeted: number;
  devices_succeeded: number;
  devices: Array<{ device_id: string; hostname: string; status: string; steps: StepLog[] }>;
}

export async function automationRun(
  s: Session,
  token: string,
  v: { org: Named; name: string; group: string; script: string; marker: string; device: string; deviceId: string },
): Promise<{ automation: Named; runId: string }> {
  const { page } = s;
  await nav(page, "Automations");
  await page.getByRole("link", { name: "New automation" }).first().click();
  await page.getByRole("heading", { name: "New automation" }).waitFor();
  await settled(page);
  // The builder's inputs (the header's organization switcher is labelled "Organization" too).
  const main = page.getByRole("main");
  await main.getByLabel("Name", { exact: true }).fill(v.name);
  const orgSelect = main.getByLabel("Organization", { exact: true });
  if (await orgSelect.count()) await choose(orgSelect, v.org.name);
  await choose(main.getByLabel("Trigger", { exact: true }), "Manual");
  // Targets: the dynamic group (its rule picks the device by hostname).
  await main.getByLabel("Chosen sites, groups, devices or OS").check();
  await main.getByRole("checkbox", { name: v.group, exact: true }).check();

  // Step 1: the script; step 2: a condition on its exit code with a step in each branch.
  await choose(main.getByLabel("Step 1 type"), "Run a script");
  await choose(main.getByLabel("Step 1 script"), v.script);
  await main.getByRole("button", { name: "Add step", exact: true }).click();
  await choose(main.getByLabel("Step 2 type"), "Condition (if / else)");
  await choose(main.getByLabel("Step 2 test"), "Exit code of the previous step");
  await choose(main.getByLabel("Comparison"), "=");
  await main.getByLabel("Step 2 exit code").fill("0");
  for (const [branch, tag] of [
    ["then", "e2e-then"],
    ["else", "e2e-else"],
  ] as const) {
    await main.getByRole("button", { name: `Add step to Step 2 ${branch}`, exact: true }).click();
    const name = `Step 2 → ${branch} → 1`;
    await choose(main.getByLabel(`${name} type`), "Update the device");
    await item(main, name).getByLabel("Add tags").fill(tag);
  }
  await s.shot("automation-builder");
  await main.getByRole("button", { name: "Create automation" }).click();
  await page.getByRole("heading", { name: v.name, exact: true }).waitFor();
  await page.waitForURL(/\/automations\/[0-9a-f-]{36}$/);
  const automation = await findByName<Named & { trigger: { type: string }; targets: { group_ids?: string[] }; actions: Array<Record<string, unknown>> }>(
    token,
    `/api/v1/automations?org_id=${v.org.id}`,
    v.name,
  );
  const want = canon([
    { type: "run_script", parameters: {} },
    { type: "condition", if: { exit_code: { eq: 0 } }, then: [{ type: "update_device", tags_add: ["e2e-then"] }], else: [{ type: "update_device", tags_add: ["e2e-else"] }] },
  ]);
  const got = canon(automation.actions.map(({ script_id: _, ...rest }) => rest));
  if (automation.trigger.type !== "manual" || automation.targets.group_ids?.length !== 1 || got !== want) throw new Error(`the API holds ${JSON.stringify(automation)}`);

  // Run now opens the run; it ends, and its step log shows the else branch taken.
  await page.getByRole("button", { name: "Run now" }).click();
  await page.waitForURL(/\/automation-runs\/[0-9a-f-]{36}$/);
  const runId = /\/automation-runs\/([0-9a-f-]{36})$/.exec(page.url())?.[1] ?? "";
  await page.getByRole("heading", { name: `Run of ${v.name}` }).waitFor();
  const status = page.getByRole("status", { name: "Run status" });
  await waitFor(page, async () => /^(completed|failed|partial|interrupted|cancelled)$/.test((await status.innerText()).trim()), "the run to finish", 120_000);
  await settled(page);
  await s.shot("automation-run");
  const log = page.getByRole("table", { name: `Step log of ${v.device}` });
  const rows = log.locator("tbody tr");
  const texts = (await rows.allInnerTexts()).map((t) => t.replace(/\s+/g, " ").trim());
  if (texts.length !== 3) throw new Error(`the step log shows ${texts.length} rows, expected 3 (script, condition, else step): ${JSON.stringify(texts)}`);
  const [scriptRow, condRow, elseRow] = texts;
  if (!/^1 1 Run a script/.test(scriptRow) || !scriptRow.includes(v.marker) || !/\b3\b/.test(scriptRow)) throw new Error(`the script step reads “${scriptRow}” (expected its output ${v.marker} and exit code 3)`);
  if (!/^2 2 Condition/.test(condRow) || !/\bcompleted\b/.test(condRow) || !condRow.includes("else branch")) throw new Error(`the condition step reads “${condRow}” (expected it to say it took the else branch)`);
  if (!/^3 2 → else → 1 Update the device completed/.test(elseRow)) throw new Error(`the third step is not the else branch's, completed: “${elseRow}”`);
  if (texts.some((t) => t.includes("→ then →"))) throw new Error("the then branch ran");
  const finalStatus = (await status.innerText()).trim();
  if (finalStatus !== "completed") throw new Error(`the run ended ${finalStatus}`);

  const run = await call<RunDetail>(token, "GET", `/api/v1/automation-runs/${runId}`);
  const dev = run.devices.find((d) => d.device_id === v.deviceId);
  if (run.status !== "completed" || run.devices_targeted !== 1 || run.devices_succeeded !== 1 || !dev) throw new Error(`the API holds the run ${JSON.stringify(run)}`);
  const paths = dev.steps.map((x) => `${x.path}:${x.type}:${x.status}`);
  if (paths.join() !== "0:run_script:completed,1:condition:completed,1.else.0:update_device:completed") throw new Error(`the API's step log is ${paths.join(", ")}`);
  if (dev.steps[0].exit_code !== 3 || !dev.steps[0].output?.includes(v.marker)) throw new Error(`the API's script step is ${JSON.stringify(dev.steps[0])}`);
  const device = await call<{ tags: string[] }>(token, "GET", `/api/v1/devices/${v.deviceId}`);
  if (!device.tags.includes("e2e-else") || device.tags.includes("e2e-then")) throw new Error(`the device's tags are ${JSON.stringify(device.tags)}`);

  // The list shows its last run.
  await nav(page, "Automations");
  const row = page.getByRole("row").filter({ hasText: v.name });
  await waitFor(page, async () => /\bcompleted\b/.test(await row.innerText()), "the list's last run to say completed");
  await s.shot("automations");
  return { automation, runId };
}

/**
 * A webhook automation built in the builder: after Create, its URL and signing secret are
 * shown once (the secret copied with its Copy button); a POST signed with it starts a run
 * that the run history shows; the same signed request again is refused as a replay, and the
 * API never returns the secret.
 */
export async function webhookAutomation(s: Session, token: string, v: { org: Named; name: string; device: string }): Promise<void> {
  const { page } = s;
  await nav(page, "Automations");
  await page.getByRole("link", { name: "New automation" }).first().click();
  await page.getByRole("heading", { name: "New automation" }).waitFor();
  await settled(page);
  const main = page.getByRole("main");
  await main.getByLabel("Name", { exact: true }).fill(v.name);
  const orgSelect = main.getByLabel("Organization", { exact: true });
  if (await orgSelect.count()) await choose(orgSelect, v.org.name);
  await choose(main.getByLabel("Trigger", { exact: true }), "Webhook");
  await main.getByLabel("Chosen sites, groups, devices or OS").check();
  await main.getByRole("group", { name: /^Devices/ }).getByRole("checkbox", { name: v.device, exact: true }).check();
  await choose(main.getByLabel("Step 1 type"), "Update the device");
  await item(main, "Step 1").getByLabel("Add tags").fill("e2e-webhook");
  await main.getByRole("button", { name: "Create automation" }).click();
  const shown = page.getByRole("dialog", { name: "Webhook signing secret" });
  const url = (await shown.getByRole("textbox", { name: "Webhook URL" }).inputValue()).trim();
  const secret = (await shown.getByRole("textbox", { name: "Signing secret" }).inputValue()).trim();
  if (!/\/api\/v1\/automations\/[0-9a-f-]{36}\/webhook$/.test(url) || secret.length < 16) throw new Error(`the dialog shows URL “${url}” and secret “${secret}”`);
  await shown.getByRole("button", { name: "Copy Signing secret" }).click();
  await shown.getByRole("button", { name: "Copied Signing secret" }).waitFor();
  if ((await page.evaluate(() => navigator.clipboard.readText())).trim() !== secret) throw new Error("the Copy button copied something other than the secret shown");
  await s.shot("automation-webhook-secret");
  await shown.getByRole("button", { name: "I have stored it" }).click();
  await shown.waitFor({ state: "detached" });
  const id = /automations\/([0-9a-f-]{36})\/webhook$/.exec(url)?.[1] ?? "";
  const stored = await call<Record<string, unknown>>(token, "GET", `/api/v1/automations/${id}`);
  if (JSON.stringify(stored).includes(secret) || stored.has_webhook_secret !== true) throw new Error(`the API holds ${JSON.stringify(stored)}`);

  // A caller signs its body with the secret; the same request again is a replay.
  const body = JSON.stringify({ ticket: "E2E-1", note: "printer on fire" });
  const headers = {
    "content-type": "application/json",
    "x-breeze-timestamp": String(Math.floor(Date.now() / 1000)),
    "x-breeze-signature": `sha256=${createHmac("sha256", secret).update(body, "utf8").digest("hex")}`,
  };
  const first = await fetch(url.replace(/^https?:\/\/[^/]+/, BREEZE_URL), { method: "POST", headers, body });
  const started = (await first.json()) as { run_id?: string | null };
  if (first.status !== 202 || !started.run_id) throw new Error(`the signed webhook answered ${first.status} ${JSON.stringify(started)}`);
  const again = await fetch(url.replace(/^https?:\/\/[^/]+/, BREEZE_URL), { method: "POST", headers, body });
  if (again.status !== 409) throw new Error(`a replay answered ${again.status}, not 409`);
  const bad = await fetch(url.replace(/^https?:\/\/[^/]+/, BREEZE_URL), { method: "POST", headers: { ...headers, "x-breeze-signature": `sha256=${"0".repeat(64)}` }, body: `${body} ` });
  if (bad.status !== 401) throw new Error(`a bad signature answered ${bad.status}, not 401`);

  // The run history (not reloaded: it polls) shows the webhook run; it completes.
  const row = main.getByRole("row").filter({ hasText: "webhook" }).first();
  await waitFor(page, async () => (await row.count()) > 0 && /\bcompleted\b/.test(await row.innerText()), "the run history to show the webhook run completed", 60_000);
  await s.shot("automation-webhook-run");
}

interface ComplianceAnswer {
  counts: { total: number; compliant: number; non_compliant: number; unknown: number; error: number };
  data: Array<{ device_id: string; status: string; rules: Array<{ rule_index: number; status: string; detail?: string | null }> }>;
}

export async function policyCompliance(s: Session, token: string, v: { org: Named; name: string; device: string; deviceId: string; absentPackage: string }): Promise<Named> {
  const { page } = s;
  await nav(page, "Policies");
  await page.getByRole("link", { name: "New policy" }).first().click();
  await page.getByRole("heading", { name: "New policy" }).waitFor();
  await settled(page);
  const main = page.getByRole("main");
  await main.getByLabel("Name", { exact: true }).fill(v.name);
  const orgSelect = main.getByLabel("Organization", { exact: true });
  if (await orgSelect.count()) await choose(orgSelect, v.org.name);
  await choose(main.getByLabel("Enforcement", { exact: true }), "Monitor");
  await main.getByLabel("Chosen sites, groups, devices or OS").check();
  await main.getByRole("group", { name: /^Devices/ }).getByRole("checkbox", { name: v.device, exact: true }).check();
  await choose(main.getByLabel("Rule 1 type"), "Package installed");
  await item(main, "Rule 1").getByLabel("Package", { exact: true }).fill(v.absentPackage);
  await main.getByRole("button", { name: "Add rule" }).click();
  await choose(main.getByLabel("Rule 2 type"), "File exists");
  await item(main, "Rule 2").getByLabel("Path", { exact: true }).fill("/etc/passwd");
  await s.shot("policy-editor");
  await main.getByRole("button", { name: "Create policy" }).click();
  await page.getByRole("heading", { name: v.name, exact: true }).waitFor();
  const policy = await findByName<Named & { rules: unknown[]; enforcement: string }>(token, `/api/v1/policies?org_id=${v.org.id}`, v.name);
  if (policy.enforcement !== "monitor" || canon(policy.rules) !== canon([{ type: "package_installed", name: v.absentPackage }, { type: "file_exists", path: "/etc/passwd" }]))
    throw new Error(`the API holds ${JSON.stringify(policy)}`);

  await page.getByRole("button", { name: "Evaluate now" }).click();
  const table = page.getByRole("table", { name: "Device compliance" });
  const row = table.getByRole("row").filter({ hasText: v.device });
  await waitFor(page, async () => (await row.count()) > 0 && /Non-compliant/.test(await row.first().innerText()), "the device row to say Non-compliant", 120_000);
  const rowText = (await row.first().innerText()).replace(/\s+/g, " ");
  if (!rowText.includes(`Package ${v.absentPackage} installed`)) throw new Error(`the device row does not name the failing rule: ${rowText}`);
  await page.getByRole("button", { name: `Show details of ${v.device}` }).click();
  const detail = page.getByRole("region", { name: `Compliance of ${v.device}` });
  const rules = detail.getByRole("table", { name: `Rules on ${v.device}` });
  const failing = (await rules.getByRole("row").filter({ hasText: `Package ${v.absentPackage} installed` }).innerText()).replace(/\s+/g, " ");
  const passing = (await rules.getByRole("row").filter({ hasText: "File /etc/passwd exists" }).innerText()).replace(/\s+/g, " ");
  if (!failing.includes("Non-compliant")) throw new Error(`the failing rule reads “${failing}”`);
  if (!passing.includes("Compliant") || passing.includes("Non-compliant")) throw new Error(`the met rule reads “${passing}”`);
  await settled(page);
  await s.shot("policy-compliance");

  const c = await call<ComplianceAnswer>(token, "GET", `/api/v1/policies/${policy.id}/compliance`);
  const d = c.data.find((x) => x.device_id === v.deviceId);
  const byRule = d?.rules.map((r) => `${r.rule_index}:${r.status}`).join();
  if (c.counts.total !== 1 || c.counts.non_compliant !== 1 || d?.status !== "non_compliant" || byRule !== "0:non_compliant,1:compliant") throw new Error(`the API's compliance is ${JSON.stringify(c)}`);
  // The policy list shows the counts.
  await nav(page, "Policies");
  await page.getByRole("group", { name: `Compliance of ${v.name}` }).getByText("0% compliant (0 of 1)").waitFor();
  return policy;
}
