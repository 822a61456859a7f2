// A small Playwright driver: Debian's Chromium (never a downloaded browser), headless, a fresh
// profile, whole-page screenshots into E2E_ARTIFACTS, and every console error, page error, CSP
// violation or unexpected HTTP error answer recorded as a problem that fails the run.
import { chromium, type BrowserContext, type Page, type Response } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BREEZE_URL = (process.env.BREEZE_URL ?? "http://127.0.0.1:3901").replace(/\/$/, "");
export const ARTIFACTS = resolve(process.env.E2E_ARTIFACTS ?? join(import.meta.dirname, "../../artifacts/screenshots"));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
/** The tallest whole-page screenshot, in CSS pixels (Chromium refuses much larger surfaces). */
const MAX_SHOT_HEIGHT = 12_000;

/** An HTTP error answer a step declares it expects (a refused action, another tenant's 404). */
export interface Expected {
  status: number | number[];
  /** Matched against the request's path and query. */
  path: RegExp;
  method?: string;
  why: string;
}

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Console errors, CSP violations and unexpected HTTP error answers seen so far. */
  problems: string[];
  /** A whole-page screenshot (the app scrolls inside <main>, so that is expanded first); of `of` when given, else of `page`. */
  shot: (name: string, of?: Page) => Promise<void>;
  /** Another tab of the same browser, watched like the first (it signs in on its own: tokens are per tab). */
  newPage: () => Promise<Page>;
  /** Runs `fn` while the listed error answers count as expected rather than as problems. */
  expecting: <T>(expected: Expected[], fn: () => Promise<T>) => Promise<T>;
  close: () => Promise<void>;
}

function matches(e: Expected, r: Response): boolean {
  const u = new URL(r.url());
  const statuses = Array.isArray(e.status) ? e.status : [e.status];
  return statuses.includes(r.status()) && e.path.test(u.pathname + u.search) && (!e.method || e.method === r.request().method());
}

/**
 * Records a page's console errors, page errors, CSP violations and unexpected HTTP error
 * answers (those no running step declared with `expecting`) as problems.
 */
async function watch(page: Page, label: string, problems: string[], expected: Expected[]) {
  page.on("console", (m) => {
    // Chromium logs every HTTP error answer as "Failed to load resource: the server responded
    // with a status of …"; those are judged by the response listener below, which knows what
    // each step expects. Any other console error (network failures included) is a problem.
    if (m.type() === "error" && !/^Failed to load resource: the server responded with a status of \d+/.test(m.text())) problems.push(`[${label}] console error at ${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`[${label}] page error at ${page.url()}: ${e.message}`));
  page.on("response", (r) => {
    if (r.status() < 400 || !r.url().startsWith(BREEZE_URL)) return;
    if (expected.some((e) => matches(e, r))) return;
    const u = new URL(r.url());
    const where = page.url();
    void r
      .text()
      .catch(() => "")
      .then((body) => problems.push(`[${label}] unexpected HTTP ${r.status()} for ${r.request().method()} ${u.pathname}${u.search} (page ${where}): ${body.slice(0, 300)}`));
  });
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });
}

export async function open(label: string, viewport = { width: 1280, height: 800 }): Promise<Session> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const profile = mkdtempSync(join(tmpdir(), "breeze-e2e-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--disable-quic",
      "--no-first-run",
      // WebRTC on loopback only (the remote desktop's direct path): gather 127.0.0.1 and
      // put plain addresses, not mDNS names, in the candidates.
      "--allow-loopback-in-peer-connection",
      "--disable-features=WebRtcHideLocalIpsWithMdns",
    ],
  });
  // The console's Copy buttons write to the clipboard; the run reads it back like a paste.
  await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: BREEZE_URL });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(Number(process.env.E2E_TIMEOUT_MS ?? 15_000));
  const problems: string[] = [];
  const expected: Expected[] = [];
  await watch(page, label, problems, expected);
  let n = 0;
  return {
    context,
    page,
    problems,
    shot: async (name, of) => {
      n++;
      const file = join(ARTIFACTS, `${label}-${String(n).padStart(2, "0")}-${name}.png`);
      await wholePage(of ?? page, file);
      console.log(`  screenshot ${file}`);
    },
    newPage: async () => {
      const p = await context.newPage();
      p.setDefaultTimeout(Number(process.env.E2E_TIMEOUT_MS ?? 15_000));
      await watch(p, `${label}/tab${context.pages().length}`, problems, expected);
      return p;
    },
    expecting: async (list, fn) => {
      expected.push(...list);
      try {
        return await fn();
      } finally {
        // Answers still in flight when the step ends arrive within a moment.
        await page.waitForTimeout(300).catch(() => {});
        for (const e of list) expected.splice(expected.indexOf(e), 1);
      }
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
}

/**
 * A screenshot of the whole page. The console's layout is one screen tall and scrolls inside
 * <main> (and a dialog scrolls inside its body), so Playwright's fullPage alone would cut the
 * page at the fold. The viewport is made as tall as that content for the shot, then restored.
 */
async function wholePage(page: Page, file: string) {
  const vp = page.viewportSize();
  const hidden = await page.evaluate(() => {
    let most = 0;
    for (const el of Array.from(document.querySelectorAll<HTMLElement>("main, dialog[open] .overflow-y-auto"))) {
      most = Math.max(most, el.scrollHeight - el.clientHeight);
    }
    return most;
  });
  const height = vp ? Math.min(MAX_SHOT_HEIGHT, vp.height + hidden) : 0;
  if (vp && height > vp.height) {
    await page.setViewportSize({ width: vp.width, height });
    await page.waitForTimeout(200);
  }
  try {
    await page.screenshot({ path: file, fullPage: true });
  } finally {
    if (vp && height > vp.height) await page.setViewportSize(vp);
  }
}

export async function step<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t = Date.now();
  try {
    const r = await fn();
    console.log(`ok   ${name} (${Date.now() - t} ms)`);
    return r;
  } catch (e) {
    console.log(`FAIL ${name}: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
}

export async function waitFor(page: Page, fn: () => Promise<boolean>, what: string, ms = 30_000) {
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
export async function settled(page: Page) {
  await page.waitForLoadState("load");
  await waitFor(page, async () => (await page.locator('[aria-busy="true"]').count()) === 0, "the page to finish loading");
  await page.waitForTimeout(150);
}

/** Fails when the page shows an error state (the console's ErrorState is a role=alert box). */
export async function noErrorState(page: Page, where: string) {
  const alerts = page.locator('[role="alert"]').filter({ hasText: /could not|error|failed/i });
  if ((await alerts.count()) > 0) throw new Error(`${where} shows an error: ${(await alerts.first().innerText()).replace(/\s+/g, " ")}`);
}
