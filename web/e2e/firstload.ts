// Measures the devices page in headless Chromium against a running server that holds many
// devices (bench/ui.sh fills one with breeze-loadgen). For each run: a fresh browser profile
// (empty cache), a signed-in session, then
//   first row  navigation start → the first device row is in the DOM
//   all rows   scrolling the virtualised list to its end until every device is loaded
// plus the bytes the browser downloaded and the JS heap afterwards. Prints a Markdown table.
//
//   BREEZE_URL, BENCH_EMAIL, BENCH_PASSWORD, BENCH_RUNS (default 5), BENCH_EXPECT (devices)
import { BREEZE_URL, open } from "./driver";
import { apiLogin, apiTokens } from "./seed";

const EMAIL = process.env.BENCH_EMAIL ?? "load@example.com";
const PASSWORD = process.env.BENCH_PASSWORD ?? "Load-Test-Password-42!";
const RUNS = Number(process.env.BENCH_RUNS ?? 5);
const EXPECT = Number(process.env.BENCH_EXPECT ?? 10_000);

interface Run {
  /** When the entry script had arrived, and when the first device page was asked for. */
  scriptEnd: number;
  devicesStart: number;
  firstRow: number;
  allRows: number;
  bytes: number;
  devicesApiMs: number;
  heapMb: number;
}

async function once(): Promise<Run> {
  const s = await open("bench", { width: 1280, height: 800 });
  const { page } = s;
  try {
    // A signed-in tab: the console keeps the refresh token in sessionStorage.
    const { refresh_token } = await apiTokens(EMAIL, PASSWORD);
    await page.addInitScript((t) => {
      if (!sessionStorage.getItem("breeze.refresh_token")) sessionStorage.setItem("breeze.refresh_token", t);
      new MutationObserver((_, obs) => {
        if (document.querySelector("[role=table][aria-label=Devices] [role=row] a[href^='/devices/']")) {
          (window as unknown as { __firstRow: number }).__firstRow = performance.now();
          obs.disconnect();
        }
      }).observe(document, { childList: true, subtree: true });
    }, refresh_token);
    await page.goto(`${BREEZE_URL}/devices`);
    await page.waitForFunction(() => (window as unknown as { __firstRow?: number }).__firstRow !== undefined, undefined, { timeout: 60_000 });
    const firstRow = await page.evaluate(() => (window as unknown as { __firstRow: number }).__firstRow);

    // Scroll to the end until the count says every device is loaded (no "+").
    const t0 = Date.now();
    const counter = page.getByText(/^\d+\+? devices?$/);
    for (;;) {
      const text = (await counter.textContent()) ?? "";
      if (!text.includes("+") && Number.parseInt(text, 10) >= EXPECT) break;
      if (Date.now() - t0 > 300_000) throw new Error(`only ${text} after 5 minutes`);
      await page.evaluate(() => {
        const el = document.querySelector("[role=table][aria-label=Devices] .overflow-y-auto");
        el?.scrollTo(0, el.scrollHeight);
      });
      await page.waitForTimeout(50);
    }
    const allRows = Date.now() - t0;
    const m = await page.evaluate(() => {
      const res = performance.getEntriesByType("resource") as PerformanceResourceTiming[];
      const nav = performance.getEntriesByType("navigation")[0] as PerformanceNavigationTiming;
      const first = res.find((r) => r.name.includes("/api/v1/devices?"));
      const script = res.find((r) => /\/assets\/index-[^/]+\.js$/.test(r.name));
      const mem = (performance as unknown as { memory?: { usedJSHeapSize: number } }).memory;
      return {
        bytes: res.reduce((a, r) => a + r.transferSize, nav.transferSize),
        devicesApiMs: first ? first.responseEnd - first.requestStart : -1,
        scriptEnd: script ? script.responseEnd : -1,
        devicesStart: first ? first.startTime : -1,
        heapMb: mem ? mem.usedJSHeapSize / 1048576 : -1,
      };
    });
    if (process.env.BENCH_TIMELINE) {
      const t = await page.evaluate(() =>
        (performance.getEntriesByType("resource") as PerformanceResourceTiming[]).map((r) => `${r.startTime.toFixed(0).padStart(6)} → ${r.responseEnd.toFixed(0).padStart(6)} ms  ${r.name.replace(location.origin, "")}`),
      );
      console.log(t.slice(0, 20).join("\n"));
    }
    return { firstRow, allRows, ...m };
  } finally {
    await s.close();
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main() {
  await apiLogin(EMAIL, PASSWORD); // fail early with a clear message
  const runs: Run[] = [];
  for (let i = 0; i < RUNS; i++) {
    const r = await once();
    console.log(`run ${i + 1}: entry script loaded ${r.scriptEnd.toFixed(0)} ms, /devices asked ${r.devicesStart.toFixed(0)} ms, first row ${r.firstRow.toFixed(0)} ms, all ${EXPECT} rows ${r.allRows} ms, ${(r.bytes / 1024).toFixed(0)} KiB, first /devices ${r.devicesApiMs.toFixed(0)} ms, heap ${r.heapMb.toFixed(1)} MiB`);
    runs.push(r);
  }
  console.log(`\n| median of ${RUNS} cold loads | value |\n|---|---|`);
  console.log(`| navigation → entry script downloaded | ${median(runs.map((r) => r.scriptEnd)).toFixed(0)} ms |`);
  console.log(`| navigation → first /api/v1/devices request | ${median(runs.map((r) => r.devicesStart)).toFixed(0)} ms |`);
  console.log(`| navigation → first device row | ${median(runs.map((r) => r.firstRow)).toFixed(0)} ms |`);
  console.log(`| first page of /api/v1/devices | ${median(runs.map((r) => r.devicesApiMs)).toFixed(0)} ms |`);
  console.log(`| scroll until all ${EXPECT} devices are loaded | ${median(runs.map((r) => r.allRows))} ms |`);
  console.log(`| bytes transferred (page + all device pages) | ${(median(runs.map((r) => r.bytes)) / 1024).toFixed(0)} KiB |`);
  console.log(`| JS heap after all rows | ${median(runs.map((r) => r.heapMb)).toFixed(1)} MiB |`);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
