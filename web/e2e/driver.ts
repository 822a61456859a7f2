// A small Playwright driver: Debian's Chromium (never a downloaded browser), headless, a fresh
// profile, screenshots into E2E_ARTIFACTS, and every console error or CSP violation recorded.
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

export const BREEZE_URL = (process.env.BREEZE_URL ?? "http://127.0.0.1:3901").replace(/\/$/, "");
export const ARTIFACTS = resolve(process.env.E2E_ARTIFACTS ?? join(import.meta.dirname, "../../artifacts/screenshots"));
const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export interface Session {
  context: BrowserContext;
  page: Page;
  /** Console errors and CSP violations seen so far. */
  problems: string[];
  shot: (name: string) => Promise<void>;
  close: () => Promise<void>;
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
    ],
  });
  const page = context.pages()[0] ?? (await context.newPage());
  page.setDefaultTimeout(Number(process.env.E2E_TIMEOUT_MS ?? 15_000));
  const problems: string[] = [];
  page.on("console", (m) => {
    // 4xx answers the console expects (a refused login, say) are logged by Chromium as
    // "Failed to load resource"; those are checked by the steps themselves.
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) problems.push(`[${label}] console at ${page.url()}: ${m.text()}`);
  });
  page.on("pageerror", (e) => problems.push(`[${label}] page error: ${e.message}`));
  await page.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (e) => {
      console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
    });
  });
  let n = 0;
  return {
    context,
    page,
    problems,
    shot: async (name) => {
      n++;
      const file = join(ARTIFACTS, `${label}-${String(n).padStart(2, "0")}-${name}.png`);
      await page.screenshot({ path: file, fullPage: false });
      console.log(`  screenshot ${file}`);
    },
    close: async () => {
      await context.close();
      rmSync(profile, { recursive: true, force: true });
    },
  };
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
