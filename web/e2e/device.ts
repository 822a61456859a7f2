// The device page: every tab opened, each compared with what the API holds for the device;
// and a script run from it, its output watched as it arrives.
import type { Locator, Page, Response } from "playwright-core";
import { BREEZE_URL, noErrorState, settled, waitFor, type Session } from "./driver";
import { call } from "./seed";

interface Hardware {
  hardware: { cpu_model: string; ram_total_mb: number } | null;
  os: { name: string; version: string } | null;
  updated_at: string | null;
}

const panel = (page: Page): Locator => page.getByRole("tabpanel");

/** Fails unless every text is shown in the locator. */
async function shows(where: Locator, texts: string[], what: string) {
  const text = await where.innerText();
  const missing = texts.filter((t) => !text.includes(t));
  if (missing.length) throw new Error(`${what}: the API has ${missing.map((m) => `“${m}”`).join(", ")}, the page does not show it`);
}

/** Opens the device from the devices list, as a user would. */
export async function openDevice(page: Page, hostname: string) {
  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Devices", exact: true }).click();
  await page.getByRole("heading", { name: "Devices" }).waitFor();
  await page.getByRole("link", { name: hostname, exact: true }).first().click();
  await page.getByRole("heading", { name: hostname }).waitFor();
  await settled(page);
}

interface DeviceBody {
  hostname: string;
  agent_version: string;
  architecture: string;
  org_name: string;
  site_name: string;
  os_name: string | null;
}

/**
 * Opens every tab of the device page and checks each against the API. `history` names what
 * the Activity and Commands & scripts tabs must list (the script run, a quarantine reason).
 */
export async function everyTab(s: Session, token: string, id: string, history: { script: string; reasons: string[] }) {
  const { page } = s;
  const api = <T>(path: string) => call<T>(token, "GET", `/api/v1/devices/${id}${path}`);
  const tabs = (await page.getByRole("tablist", { name: "Device details" }).getByRole("tab").allInnerTexts()).map((t) => t.trim());
  const want = ["Overview", "Alerts", "Hardware", "Software", "Processes", "Users", "Network", "Disks", "Metrics", "Commands & scripts", "Activity"];
  const missing = want.filter((t) => !tabs.includes(t));
  if (missing.length) throw new Error(`the device page lacks the tabs ${missing.join(", ")} (has: ${tabs.join(", ")})`);
  for (const name of tabs) {
    if (name === "Metrics") {
      await everyRange(s, token, id);
      continue;
    }
    await page.getByRole("tab", { name, exact: true }).click();
    await settled(page);
    await noErrorState(page, name);
    const where = panel(page);
    switch (name) {
      case "Overview": {
        const d = await call<DeviceBody>(token, "GET", `/api/v1/devices/${id}`);
        if (!d.os_name) throw new Error("the API has no OS name for the device");
        await shows(where, [d.hostname, d.agent_version, d.architecture, d.org_name, d.site_name, d.os_name], name);
        break;
      }
      case "Hardware": {
        const hw = await api<Hardware>("/hardware");
        if (!hw.hardware) throw new Error("the API holds no hardware for the device");
        await shows(where, [hw.hardware.cpu_model, `${(hw.hardware.ram_total_mb / 1024).toFixed(1)} GB`], name);
        const updated = where.getByText("Updated", { exact: true }).locator("xpath=following-sibling::*[1]");
        const text = (await updated.innerText()).trim();
        if (!hw.updated_at) throw new Error("the API has no updated_at for the hardware");
        if (!text || text === "—") throw new Error(`Hardware shows “Updated ${text}” although the API has ${hw.updated_at}`);
        break;
      }
      case "Software": {
        // A page of rows, the same rows the API answers, and the total it counts.
        const rows = await where.locator("tbody tr").count();
        const sw = await api<{ data: Array<{ name: string }>; total: number }>(`/software?limit=${Math.max(rows, 1)}`);
        if (!sw.total) throw new Error("the API holds no software for the device");
        if (rows < Math.min(sw.total, 50)) throw new Error(`Software shows ${rows} rows of the API's ${sw.total}`);
        const names = await where.locator("tbody tr td:first-child").allInnerTexts();
        if (names.join("\n") !== sw.data.map((x) => x.name).join("\n")) throw new Error("Software shows other rows than the API's first page");
        const counter = `1–${rows} of ${sw.total} ${sw.total === 1 ? "package" : "packages"}`;
        if (!(await where.getByText(counter, { exact: true }).count())) throw new Error(`Software does not show “${counter}”`);
        if (sw.total > rows) {
          // The pager: the next page follows on where the first ended.
          await where.getByRole("button", { name: "Next", exact: true }).click();
          await where.getByText(new RegExp(`^${rows + 1}–\\d+ of ${sw.total} packages$`)).waitFor({ timeout: 10_000 });
          await s.shot("device-tab-software-page-2");
          await where.getByRole("button", { name: "Previous", exact: true }).click();
          await where.getByText(counter, { exact: true }).waitFor();
        }
        break;
      }
      case "Processes": {
        const ps = await api<{ data: Array<{ name: string }> }>("/processes?limit=500&q=breeze-agent");
        if (!ps.data.length) throw new Error("the API lists no breeze-agent process for the device");
        await where.getByRole("searchbox", { name: "Search processes" }).fill("breeze-agent");
        await waitFor(page, async () => (await where.locator("tbody tr").count()) === ps.data.length, `${ps.data.length} breeze-agent process row(s)`, 10_000);
        await shows(where, [ps.data[0].name], name);
        break;
      }
      case "Users": {
        const us = await api<{ data: Array<{ username: string }> }>("/users?limit=500");
        if (us.data.length) await shows(where, us.data.map((u) => u.username), name);
        else await where.getByText("No one is logged in").waitFor();
        break;
      }
      case "Network": {
        const net = await api<{ data: Array<{ name: string }> }>("/network");
        if (!net.data.length) throw new Error("the API holds no network interfaces for the device");
        await shows(where, net.data.map((n) => n.name), name);
        break;
      }
      case "Disks": {
        const disks = await api<{ data: Array<{ mount_point: string }> }>("/disks");
        if (!disks.data.length) throw new Error("the API holds no disks for the device");
        await shows(where, disks.data.map((d) => d.mount_point), name);
        break;
      }
      case "Alerts": {
        // Open alerts by default, the same ones the API lists for the device.
        const al = await api<{ data: Array<{ title: string }> }>("/alerts?status=open&limit=50");
        if (!al.data.length) await where.getByText("No open alerts on this device").waitFor();
        else {
          const rows = await where.locator("tbody tr").count();
          if (rows !== al.data.length) throw new Error(`Alerts shows ${rows} rows, the API ${al.data.length}`);
          await shows(where, al.data.map((a) => a.title), name);
        }
        break;
      }
      case "Commands & scripts": {
        await where.getByText(history.script).first().waitFor({ timeout: 10_000 });
        break;
      }
      case "Activity": {
        const ev = await api<{ data: Array<{ event_type: string }> }>("/events?limit=50");
        const list = where.getByRole("list", { name: "Device activity" });
        await list.waitFor();
        const shown = await list.getByRole("listitem").count();
        if (shown !== ev.data.length) throw new Error(`Activity lists ${shown} events, the API ${ev.data.length}`);
        await shows(where, ["Enrolled", "First check-in", `Script “${history.script}” completed`, ...history.reasons], name);
        break;
      }
      default:
        throw new Error(`a tab the run does not know: ${name}`);
    }
    await s.shot(`device-tab-${name.toLowerCase().replace(/[^a-z]+/g, "-")}`);
  }
}

/**
 * Every range the Metrics tab offers: the API answers, no error state, and a chart drawn from
 * the points: a line through them (not isolated pieces), or a dot when there is one point.
 */
async function everyRange(s: Session, token: string, id: string) {
  const { page } = s;
  const isMetrics = (r: Response) => new URL(r.url()).pathname === `/api/v1/devices/${id}/metrics`;
  // The tab asks for its default range as it opens.
  const opened = page.waitForResponse(isMetrics, { timeout: 10_000 });
  opened.catch(() => {});
  await page.getByRole("tab", { name: "Metrics", exact: true }).click();
  const select = page.getByLabel("Time range");
  await select.waitFor();
  const options = await select.locator("option").evaluateAll((els) => els.map((e) => ({ value: (e as HTMLOptionElement).value, label: e.textContent ?? "" })));
  if (options.length < 2) throw new Error(`the Metrics tab offers only ${options.length} range(s)`);
  const first = await select.inputValue();
  const order = [...options.filter((o) => o.value === first), ...options.filter((o) => o.value !== first)];
  for (const o of order) {
    let r: Response;
    if (o.value === first) r = await opened;
    else {
      const next = page.waitForResponse(isMetrics, { timeout: 10_000 });
      await select.selectOption(o.value);
      r = await next;
    }
    await settled(page);
    const query = new URL(r.request().url()).search;
    if (r.status() >= 400) throw new Error(`Metrics ${o.label}: ${query} answered ${r.status()}: ${(await r.text()).slice(0, 200)}`);
    await noErrorState(page, `Metrics ${o.label}`);
    const points = ((await r.json()) as { data: unknown[] }).data.length;
    if (points === 0) {
      const raw = await call<{ data: unknown[] }>(token, "GET", `/api/v1/devices/${id}/metrics?resolution=raw`);
      throw new Error(`Metrics ${o.label}: no chart; the server holds no points for ${query} (raw samples in the last 24 h: ${raw.data.length})`);
    }
    // Recharts draws a series' curve and its dots in z-index layers of the chart's SVG.
    const chart = page.getByRole("tabpanel").locator(".recharts-wrapper > svg.recharts-surface");
    await chart.waitFor({ timeout: 5000 });
    if (points === 1) {
      const dots = await chart.locator(".recharts-line-dots .recharts-line-dot").count();
      if (dots < 1) throw new Error(`Metrics ${o.label}: the API has one point (${query}); the chart shows no dot for it`);
    } else {
      const curve = chart.locator(".recharts-line-curve").first();
      await curve.waitFor({ state: "attached", timeout: 5000 });
      const d = (await curve.getAttribute("d")) ?? "";
      const pieces = (d.match(/M/g) ?? []).length;
      if (!/[LC]/.test(d) || pieces * 2 > points) throw new Error(`Metrics ${o.label}: ${points} points drawn as ${pieces} separate pieces, not a line`);
    }
    await s.shot(`device-metrics-${o.value}`);
  }
}

/** Whether the server streams a script's output while it runs (an output event in its live stream). */
export async function serverStreamsOutput(): Promise<boolean> {
  const doc = (await (await fetch(`${BREEZE_URL}/api/openapi.json`)).json()) as { components?: { schemas?: Record<string, unknown> } };
  const live = doc.components?.schemas?.LiveEvent;
  // An event type (a tagged variant's `type` enum) that carries output, e.g. `execution.output`.
  return !!live && /"enum":\["[^"]*output[^"]*"\]/i.test(JSON.stringify(live));
}

export interface RunResult {
  /** The first line appeared while the execution was still running. */
  sawChunkBeforeEnd: boolean;
  status: string;
  stdout: string;
}

const TERMINAL = /\b(completed|failed|timeout|cancelled|expired|rejected|lost)\b/;

/** Runs a library script from the device page and watches its output until it ends. */
export async function runScript(s: Session, script: string, hostname: string, first: string, last: string): Promise<RunResult> {
  const { page } = s;
  await page.getByRole("button", { name: "Run script" }).click();
  const d = page.getByRole("dialog");
  const select = d.getByLabel("Script");
  await select.waitFor();
  const labels = await select.locator("option").allTextContents();
  const label = labels.find((l) => l.startsWith(`${script} (`));
  if (!label) throw new Error(`no script named ${script} in the library (${labels.join(", ")})`);
  await select.selectOption({ label });
  await s.shot("run-dialog");
  await d.getByRole("button", { name: /^Run on/ }).click();
  const row = d.getByRole("button", { name: new RegExp(`^${hostname}`) });
  await row.waitFor();
  let sawChunkBeforeEnd = false;
  let shotRunning = false;
  const end = Date.now() + 120_000;
  for (;;) {
    const status = ((await row.innerText()).match(TERMINAL) ?? [""])[0];
    const out = d.getByTestId("stdout");
    const stdout = (await out.count()) ? ((await out.first().textContent()) ?? "") : "";
    if (status) {
      await s.shot("run-output");
      return { sawChunkBeforeEnd, status, stdout };
    }
    if (stdout.includes(first) && !stdout.includes(last)) {
      sawChunkBeforeEnd = true;
      if (!shotRunning) await s.shot("run-output-streaming");
      shotRunning = true;
    }
    if (Date.now() > end) throw new Error(`the script did not finish within 2 minutes (output so far: ${stdout})`);
    await page.waitForTimeout(150);
  }
}
