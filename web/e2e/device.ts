// The device page: every tab opened, each compared with what the API holds for the device;
// and a script run from it, its output watched as it arrives.
import type { Locator, Page, Response } from "playwright-core";
import { BREEZE_URL, noErrorState, settled, waitFor, type Session } from "./driver";
import { check } from "./known";
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

/** Opens every tab of the device page and checks each against the API. */
export async function everyTab(s: Session, token: string, id: string, scriptName: string) {
  const { page } = s;
  const api = <T>(path: string) => call<T>(token, "GET", `/api/v1/devices/${id}${path}`);
  const tabs = await page.getByRole("tablist", { name: "Device details" }).getByRole("tab").allInnerTexts();
  if (tabs.length < 8) throw new Error(`the device page has only these tabs: ${tabs.join(", ")}`);
  for (const label of tabs) {
    const name = label.trim();
    if (name === "Metrics") {
      await everyRange(s, token, id);
      continue;
    }
    await page.getByRole("tab", { name, exact: true }).click();
    await settled(page);
    const where = panel(page);
    switch (name) {
      case "Overview": {
        await noErrorState(page, name);
        const d = await call<{ hostname: string; agent_version: string; architecture: string }>(token, "GET", `/api/v1/devices/${id}`);
        await shows(where, [d.hostname, d.agent_version, d.architecture], name);
        const hw = await api<Hardware>("/hardware");
        if (hw.os?.name) await shows(where, [hw.os.name], `${name} operating system`);
        break;
      }
      case "Hardware": {
        await noErrorState(page, name);
        const hw = await api<Hardware>("/hardware");
        if (!hw.hardware) throw new Error("the API holds no hardware for the device");
        await shows(where, [hw.hardware.cpu_model, `${(hw.hardware.ram_total_mb / 1024).toFixed(1)} GB`], name);
        await check(s, "hardware-updated", [], async () => {
          const updated = where.getByText("Updated", { exact: true }).locator("xpath=following-sibling::*[1]");
          const text = (await updated.innerText()).trim();
          if (!hw.updated_at) throw new Error("the API has no updated_at for the hardware");
          if (!text || text === "—") throw new Error(`Hardware shows “Updated ${text}” although the API has ${hw.updated_at}`);
        });
        break;
      }
      case "Software": {
        await noErrorState(page, name);
        // The tab shows the first page (100) and the total the API counts.
        const sw = await api<{ data: Array<{ name: string }>; total: number }>("/software?limit=100");
        if (!sw.data.length) throw new Error("the API holds no software for the device");
        await waitFor(page, async () => (await where.locator("tbody tr").count()) === sw.data.length, `${sw.data.length} software rows`, 10_000);
        await shows(where, [...sw.data.slice(0, 5).map((x) => x.name), `of ${sw.total} packages`], name);
        break;
      }
      case "Processes": {
        await noErrorState(page, name);
        const ps = await api<{ data: Array<{ name: string }> }>("/processes?limit=500&q=breeze-agent");
        if (!ps.data.length) throw new Error("the API lists no breeze-agent process for the device");
        await where.getByRole("searchbox", { name: "Search processes" }).fill("breeze-agent");
        await waitFor(page, async () => (await where.locator("tbody tr").count()) === ps.data.length, `${ps.data.length} breeze-agent process row(s)`, 10_000);
        await shows(where, [ps.data[0].name], name);
        break;
      }
      case "Users": {
        await noErrorState(page, name);
        const us = await api<{ data: Array<{ username: string }> }>("/users?limit=500");
        if (us.data.length) await shows(where, us.data.map((u) => u.username), name);
        else await where.getByText("No one is logged in").waitFor();
        break;
      }
      case "Network": {
        const net = await api<{ data: Array<{ name: string }> }>("/network");
        if (!net.data.length) throw new Error("the API holds no network interfaces for the device");
        await check(s, "network-tab", [], async () => {
          await noErrorState(page, name);
          await shows(where, net.data.map((n) => n.name), name);
        });
        break;
      }
      case "Disks": {
        const disks = await api<{ data: Array<{ mount_point: string }> }>("/disks");
        if (!disks.data.length) throw new Error("the API holds no disks for the device");
        await check(s, "disks-tab", [], async () => {
          await noErrorState(page, name);
          await shows(where, disks.data.map((d) => d.mount_point), name);
        });
        break;
      }
      default: {
        // The history tab ("Commands & scripts", or "Activity"): the script that ran is there.
        await noErrorState(page, name);
        if (/command|activity|history/i.test(name)) await where.getByText(scriptName).first().waitFor({ timeout: 10_000 });
      }
    }
    await s.shot(`device-tab-${name.toLowerCase().replace(/[^a-z]+/g, "-")}`);
  }
}

/** Every range the Metrics tab offers: no error, a chart drawn from the API's points. */
async function everyRange(s: Session, token: string, id: string) {
  const { page } = s;
  const isMetrics = (r: Response) => new URL(r.url()).pathname === `/api/v1/devices/${id}/metrics`;
  const expected = [{ status: 422, path: new RegExp(`^/api/v1/devices/${id}/metrics\\?`), method: "GET" }];
  // The tab asks for its default range as it opens.
  const opened = page.waitForResponse(isMetrics, { timeout: 10_000 });
  opened.catch(() => {});
  await page.getByRole("tab", { name: "Metrics", exact: true }).click();
  const select = page.getByLabel("Time range");
  await select.waitFor();
  const options = await select.locator("option").evaluateAll((els) => els.map((e) => ({ value: (e as HTMLOptionElement).value, label: e.textContent ?? "" })));
  const first = await select.inputValue();
  const order = [...options.filter((o) => o.value === first), ...options.filter((o) => o.value !== first)];
  for (const o of order) {
    let answer: { points: number; query: string } | null = null;
    await check(s, "metrics-ranges", expected, async () => {
      let r: Response;
      if (o.value === first) r = await opened;
      else {
        const next = page.waitForResponse(isMetrics, { timeout: 10_000 });
        await select.selectOption(o.value);
        r = await next;
      }
      await settled(page);
      const query = new URL(r.request().url()).search;
      if (r.status() >= 400) throw new Error(`${o.label}: ${query} answered ${r.status()}: ${(await r.text()).slice(0, 200)}`);
      await noErrorState(page, `Metrics ${o.label}`);
      answer = { points: ((await r.json()) as { data: unknown[] }).data.length, query };
    });
    if (answer) {
      const { points, query } = answer;
      await check(s, "metrics-empty", [], async () => {
        if (points === 0) {
          const raw = await call<{ data: unknown[] }>(token, "GET", `/api/v1/devices/${id}/metrics?resolution=raw`);
          throw new Error(`${o.label}: no chart; the server holds no points for ${query} (raw samples in the last 24 h: ${raw.data.length})`);
        }
        const curves = page.getByRole("tabpanel").locator(".recharts-line-curve");
        await curves.first().waitFor({ timeout: 5000 });
        const d = (await curves.first().getAttribute("d")) ?? "";
        const pieces = (d.match(/M/g) ?? []).length;
        if (points > 1 && (!/[LC]/.test(d) || pieces * 2 > points)) throw new Error(`${o.label}: ${points} points drawn as ${pieces} separate pieces, not a line`);
      });
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
