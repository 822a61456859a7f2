// Alerting through the console: a webhook channel pointed at a receiver this run starts on
// loopback (the server's outbound guard lets 127.0.0.1 through: BREEZE_OUTBOUND_ALLOW), its
// "Send test" logged as sent and received with a valid signature; a rule built in the rule
// builder (a server 422 shown next to the input it names, then fixed) that the real agent
// trips at its next heartbeat; the alert appearing in an inbox that is not reloaded; its
// acknowledgement; the detail's timeline and delivery log; the device's Alerts tab and the
// dashboard's counts. The API only checks the results.
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingHttpHeaders } from "node:http";
import type { Locator, Page } from "playwright-core";
import { BREEZE_URL, settled, waitFor, type Session } from "./driver";
import { nav } from "./forms";
import { call } from "./seed";

export interface Hook {
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

export interface Receiver {
  url: string;
  hooks: Hook[];
  /** Waits for a POST whose JSON `event` is `event` (and that `also` accepts). */
  waitFor: (event: string, also?: (body: Record<string, unknown>) => boolean, ms?: number) => Promise<Hook>;
  close: () => Promise<void>;
}

/** An HTTP receiver on loopback that answers 204 to every POST and keeps what it got. */
export async function webhookReceiver(): Promise<Receiver> {
  const hooks: Hook[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      if (req.method === "POST") hooks.push({ path: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      res.writeHead(req.method === "POST" ? 204 : 405).end();
    });
  });
  await new Promise<void>((ok) => server.listen(0, "127.0.0.1", ok));
  const addr = server.address();
  if (!addr || typeof addr === "string") throw new Error("the webhook receiver has no port");
  const parse = (h: Hook): Record<string, unknown> => {
    try {
      return JSON.parse(h.body) as Record<string, unknown>;
    } catch {
      return {};
    }
  };
  return {
    url: `http://127.0.0.1:${addr.port}/breeze-hook`,
    hooks,
    waitFor: async (event, also = () => true, ms = 60_000) => {
      const end = Date.now() + ms;
      for (;;) {
        const h = hooks.find((x) => parse(x).event === event && also(parse(x)));
        if (h) return h;
        if (Date.now() > end) throw new Error(`no ${event} webhook within ${ms} ms (received: ${hooks.map((x) => String(parse(x).event)).join(", ") || "nothing"})`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    close: () => new Promise<void>((ok) => server.close(() => ok())),
  };
}

/** The `X-Breeze-Signature: sha256=<hex HMAC-SHA256 of the raw body>` check a receiver makes. */
export function signatureValid(h: Hook, secret: string): boolean {
  const got = String(h.headers["x-breeze-signature"] ?? "");
  const want = `sha256=${createHmac("sha256", secret).update(h.body, "utf8").digest("hex")}`;
  return got.length === want.length && timingSafeEqual(Buffer.from(got), Buffer.from(want));
}

async function choose(select: Locator, label: string) {
  const labels = await select.locator("option").allTextContents();
  const exact = labels.find((l) => l === label) ?? labels.find((l) => l.startsWith(label));
  if (!exact) throw new Error(`no option “${label}” (have: ${labels.join(", ")})`);
  await select.selectOption({ label: exact });
}

interface Named {
  id: string;
  name: string;
}

/** The Alerts link of the main navigation (its name carries the open count once there is one). */
export function alertsLink(page: Page): Locator {
  return page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: /^Alerts(\s*(\d+\+?)?\s*\(\d+ open\))?$/ });
}

/**
 * A webhook channel made on the Notification channels page; its secret copied from the
 * once-only dialog; "Send test" logged as sent and received, correctly signed.
 */
export async function webhookChannel(s: Session, token: string, org: Named, name: string, rx: Receiver): Promise<{ channel: Named; secret: string }> {
  const { page } = s;
  await nav(page, "Notification channels");
  await page.getByRole("button", { name: "New channel" }).click();
  const d = page.getByRole("dialog", { name: "New notification channel" });
  await d.getByLabel("Name", { exact: true }).fill(name);
  const orgSelect = d.getByLabel("Organization", { exact: true });
  if (await orgSelect.count()) await choose(orgSelect, org.name);
  await choose(d.getByLabel("Type", { exact: true }), "Webhook");
  await d.getByLabel("URL", { exact: true }).fill(rx.url);
  await d.getByLabel(/^Extra headers/).fill("X-E2E-Run: breeze");
  await s.shot("channel-form");
  await d.getByRole("button", { name: "Create", exact: true }).click();
  const shown = page.getByRole("dialog", { name: "Webhook signing secret" });
  const secret = (await shown.getByRole("textbox", { name: `Signing secret of ${name}` }).inputValue()).trim();
  if (secret.length < 16) throw new Error(`the secret shown is too short: “${secret}”`);
  // Its Copy button puts the same secret on the clipboard.
  await shown.getByRole("button", { name: `Copy Signing secret of ${name}` }).click();
  await shown.getByRole("button", { name: `Copied Signing secret of ${name}` }).waitFor();
  const pasted = await page.evaluate(() => navigator.clipboard.readText());
  if (pasted.trim() !== secret) throw new Error("the Copy button copied something other than the secret shown");
  await s.shot("channel-secret");
  await shown.getByRole("button", { name: "I have stored it" }).click();
  await shown.waitFor({ state: "detached" });
  const row = page.getByRole("row").filter({ hasText: name });
  await row.first().waitFor();
  const list = await call<{ data: Array<Named & { type: string; enabled: boolean; config: Record<string, unknown> }> }>(token, "GET", `/api/v1/notification-channels?org_id=${org.id}`);
  const channel = list.data.find((c) => c.name === name);
  if (!channel) throw new Error(`the API lists no channel ${name}`);
  if (channel.type !== "webhook" || !channel.enabled || channel.config.url !== rx.url) throw new Error(`the API holds ${JSON.stringify(channel)}`);
  if (JSON.stringify(channel).includes(secret)) throw new Error("the API returns the webhook secret after creation");

  // Send test: the delivery log opens and the test turns "sent"; the receiver has it, signed.
  await page.getByRole("button", { name: `Send test through ${name}` }).click();
  const log = page.getByRole("dialog", { name: `Delivery log of ${name}` });
  const testRow = log.getByRole("row").filter({ hasText: "test" }).first();
  await waitFor(page, async () => (await testRow.count()) > 0 && /\bsent\b/.test(await testRow.innerText()), "the test delivery to be logged as sent", 60_000);
  if (!/\b204\b/.test(await testRow.innerText())) throw new Error(`the log row does not show the receiver's 204: ${await testRow.innerText()}`);
  await settled(page);
  await s.shot("channel-test-delivered");
  await log.getByRole("button", { name: "Close" }).click();
  const hook = await rx.waitFor("test", () => true, 10_000);
  if (!signatureValid(hook, secret)) throw new Error(`the test webhook's X-Breeze-Signature does not verify: ${String(hook.headers["x-breeze-signature"])}`);
  if (hook.headers["x-e2e-run"] !== "breeze") throw new Error("the channel's custom header was not sent");
  const deliveries = await call<{ data: Array<{ event: string; status: string; attempts: number }> }>(token, "GET", `/api/v1/notification-channels/${channel.id}/deliveries`);
  if (!deliveries.data.some((x) => x.event === "test" && x.status === "sent")) throw new Error(`the API's delivery log holds ${JSON.stringify(deliveries.data)}`);
  return { channel, secret };
}

export interface AlertFlow {
  rule: Named;
  alertId: string;
}

/**
 * The rule built in the rule builder: memory ≥ 0 % at once, all of the organization's devices,
 * notifying the channel. A second tab keeps the inbox open from before the rule exists; the
 * alert must appear there without a reload, and is acknowledged there.
 */
export async function ruleTripsLive(
  s: Session,
  token: string,
  v: { org: Named; rule: string; channel: Named; device: string; deviceId: string; email: string; password: string; secret: string; rx: Receiver },
): Promise<AlertFlow> {
  const { page } = s;
  // The inbox, in its own tab, signed in on its own, opened before the rule exists.
  const inbox = await s.newPage();
  await inbox.goto(`${BREEZE_URL}/login`);
  await inbox.getByLabel("E-mail").fill(v.email);
  await inbox.getByLabel("Password").fill(v.password);
  await inbox.getByRole("button", { name: "Sign in" }).click();
  await inbox.getByRole("button", { name: "Sign out" }).waitFor();
  await alertsLink(inbox).click();
  await inbox.getByRole("heading", { name: "Alerts", exact: true }).waitFor();
  await settled(inbox);
  await inbox.getByText("Live", { exact: true }).waitFor();
  if ((await inbox.getByRole("row").filter({ hasText: v.rule }).count()) > 0) throw new Error("the inbox lists the rule's alert before the rule exists");
  await s.shot("alerts-inbox-before", inbox);

  // The rule builder.
  await nav(page, "Alert rules");
  await page.getByRole("button", { name: "New rule" }).first().click();
  const d = page.getByRole("dialog", { name: "New alert rule" });
  await d.getByLabel("Name", { exact: true }).fill(v.rule);
  await d.getByLabel(/^Description/).fill("e2e: memory in use at all, so the next heartbeat trips it");
  await choose(d.getByLabel("Severity", { exact: true }), "High");
  const orgSelect = d.getByLabel("Organization", { exact: true });
  if (await orgSelect.count()) await choose(orgSelect, v.org.name);
  await d.getByLabel("All devices of the organization").check();
  await choose(d.getByLabel("Condition 1 type"), "Metric threshold");
  await choose(d.getByLabel("Metric", { exact: true }), "Memory %");
  await d.getByLabel("Operator", { exact: true }).selectOption("gte");
  await d.getByLabel("Value", { exact: true }).fill("0");
  // A window longer than the server allows: its 422 names conditions.all[0].duration_minutes,
  // shown under that input.
  const duration = d.getByLabel("For (minutes)");
  await duration.fill("10081");
  await d.getByRole("checkbox", { name: v.channel.name }).check();
  await d.getByLabel("Cooldown (minutes)").fill("0");
  await s.expecting([{ status: 422, path: /^\/api\/v1\/alert-rules$/, method: "POST", why: "a window longer than the server allows" }], async () => {
    await d.getByRole("button", { name: "Create rule" }).click();
    await waitFor(page, async () => (await duration.getAttribute("aria-invalid")) === "true", "the server's error on the duration input");
  });
  const describedBy = (await duration.getAttribute("aria-describedby")) ?? "";
  const message = describedBy ? (await page.locator(`[id="${describedBy}"]`).innerText()).trim() : "";
  if (!message) throw new Error("the duration input is marked invalid but no message names the problem");
  await s.shot("rule-form-server-error");
  await duration.fill("");
  if ((await duration.getAttribute("aria-invalid")) === "true") throw new Error("the server's error stays after the input changed");
  await s.shot("rule-form");
  await d.getByRole("button", { name: "Create rule" }).click();
  await d.waitFor({ state: "detached" });
  await page.getByRole("row").filter({ hasText: v.rule }).first().waitFor();
  const rules = await call<{ data: Array<Named & { severity: string; conditions: unknown; targets: unknown; notification_channels: string[]; cooldown_minutes: number }> }>(
    token,
    "GET",
    `/api/v1/alert-rules?org_id=${v.org.id}`,
  );
  const rule = rules.data.find((r) => r.name === v.rule);
  if (!rule) throw new Error(`the API lists no rule ${v.rule}`);
  const conds = JSON.stringify(rule.conditions);
  if (rule.severity !== "high" || !/"ram_percent"/.test(conds) || !/"gte"/.test(conds) || JSON.stringify(rule.targets) !== '{"all":true}' || !rule.notification_channels.includes(v.channel.id))
    throw new Error(`the API holds ${JSON.stringify(rule)}`);

  // "Test" evaluates it now: this device would fire.
  await page.getByRole("button", { name: `Test ${v.rule}` }).click();
  const test = page.getByRole("dialog", { name: `Test ${v.rule}` });
  await test.getByRole("row").filter({ hasText: v.device }).filter({ hasText: "Fires" }).first().waitFor({ timeout: 30_000 });
  await s.shot("rule-test");
  await test.getByRole("button", { name: "Close" }).click();
  await s.shot("alert-rules");

  // The inbox tab, never reloaded, shows the alert when the agent's next heartbeat trips it.
  const row = inbox.getByRole("row").filter({ hasText: v.device }).filter({ hasText: v.rule });
  await row.first().waitFor({ timeout: 120_000 });
  await settled(inbox);
  await s.shot("alerts-inbox-live", inbox);
  const alerts = await call<{ data: Array<{ id: string; status: string; severity: string; device_id: string; acknowledged_by?: string | null }> }>(token, "GET", `/api/v1/alerts?rule_id=${rule.id}`);
  if (alerts.data.length !== 1) throw new Error(`the API lists ${alerts.data.length} alerts of the rule, not 1`);
  const alert = alerts.data[0];
  if (alert.status !== "active" || alert.severity !== "high" || alert.device_id !== v.deviceId) throw new Error(`the API holds ${JSON.stringify(alert)}`);
  // The nav badge counts it.
  await waitFor(inbox, async () => /\(\d+ open\)/.test((await alertsLink(inbox).textContent()) ?? ""), "the Alerts badge to count the open alert");

  // Acknowledge it from its row.
  await row.first().getByRole("button", { name: /^Acknowledge / }).click();
  const ack = inbox.getByRole("dialog", { name: "Acknowledge alert" });
  await ack.getByRole("button", { name: "Acknowledge", exact: true }).click();
  await ack.waitFor({ state: "detached" });
  await waitFor(inbox, async () => /\bAcknowledged\b/.test(await row.first().innerText()), "the row to say Acknowledged");
  const after = await call<{ status: string; acknowledged_by: string | null; acknowledged_at: string | null }>(token, "GET", `/api/v1/alerts/${alert.id}`);
  const me = await call<{ user: { id: string } }>(token, "GET", "/api/v1/auth/me");
  if (after.status !== "acknowledged" || after.acknowledged_by !== me.user.id || !after.acknowledged_at) throw new Error(`after acknowledging, the API holds ${JSON.stringify(after)}`);

  // The detail: what fired it, the timeline, the delivery to the webhook.
  await row.first().getByRole("button", { name: /./ }).first().click();
  const detail = inbox.getByRole("dialog").last();
  await detail.getByText("What fired it").waitFor();
  await detail.getByText(/^Acknowledged by you$/).waitFor();
  const delivered = detail.getByRole("row").filter({ hasText: "alert.triggered" }).first();
  await waitFor(inbox, async () => (await delivered.count()) > 0 && /\bsent\b/.test(await delivered.innerText()), "the alert's webhook delivery to be logged as sent", 60_000);
  await settled(inbox);
  await s.shot("alert-detail", inbox);
  const hook = await v.rx.waitFor("alert.triggered", (b) => (b.alert as { id?: string } | undefined)?.id === alert.id, 10_000);
  if (!signatureValid(hook, v.secret)) throw new Error("the alert webhook's signature does not verify");
  const body = JSON.parse(hook.body) as { alert?: { severity?: string; title?: string }; device?: { hostname?: string } };
  if (body.alert?.severity !== "high" || !body.alert?.title || body.device?.hostname !== v.device) throw new Error(`the alert webhook's body is ${hook.body.slice(0, 400)}`);
  await detail.getByRole("button", { name: "Close" }).click();

  // Narrow screen: the inbox still reads.
  await inbox.setViewportSize({ width: 390, height: 844 });
  await settled(inbox);
  await s.shot("alerts-inbox-narrow", inbox);
  await inbox.close();
  return { rule, alertId: alert.id };
}

/** The device page's Alerts tab and the dashboard's counts show the acknowledged alert. */
export async function alertElsewhere(s: Session, v: { device: string; deviceId: string; rule: string }) {
  const { page } = s;
  await page.goto(`${BREEZE_URL}/devices/${v.deviceId}`);
  await page.getByRole("heading", { name: v.device }).waitFor();
  await page.getByRole("tab", { name: "Alerts" }).click();
  await page.getByRole("tabpanel").getByRole("row").filter({ hasText: "Acknowledged" }).first().waitFor();
  await settled(page);
  await s.shot("device-alerts");
  await nav(page, "Dashboard");
  const high = page.getByRole("list", { name: "Open alerts by severity" }).getByRole("link", { name: /^High: \d+ open$/ });
  const n = Number(/High: (\d+)/.exec((await high.getAttribute("aria-label")) ?? "")?.[1]);
  if (!(n >= 1)) throw new Error(`the dashboard counts ${n} open high alerts`);
  await high.click();
  await page.getByRole("heading", { name: "Alerts", exact: true }).waitFor();
  await page.getByRole("row").filter({ hasText: v.rule }).first().waitFor();
  await settled(page);
  await s.shot("alerts-high");
}
