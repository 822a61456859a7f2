// Remote access through the console, on the real agent: a terminal opened from the device page
// (a command typed and its output seen, the browser window resized and `stty size` following
// it, Ctrl-C stopping `sleep 100`, Disconnect), the session in the Remote sessions list and its
// recording replayed; then the file manager: a file uploaded through the file input, listed,
// downloaded and compared byte for byte with what the API serves, renamed, deleted after the
// confirmation; a 9 MiB upload cut after its first chunk, resumed with Resume from the size
// HEAD reports, and whole on the device. The API only sets up a scratch folder and checks the results.
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import type { Locator, Page } from "playwright-core";
import { BREEZE_URL, settled, waitFor, type Session } from "./driver";
import { openDevice } from "./device";
import { nav } from "./forms";
import { call } from "./seed";

interface RemoteSession {
  id: string;
  status: string;
  type: string;
  bytes_transferred: number;
  duration_seconds: number | null;
  recording_url: string | null;
}

/** The terminal's screen as text, one line per row (xterm's DOM renderer). */
async function screen(where: Locator): Promise<string[]> {
  return where.locator(".xterm-rows > div").evaluateAll((rows) => rows.map((r) => (r.textContent ?? "").replace(/\u00a0/g, " ").trimEnd()));
}

async function screenHas(page: Page, where: Locator, test: (lines: string[]) => boolean, what: string, ms = 15_000) {
  try {
    await waitFor(page, async () => test(await screen(where)), what, ms);
  } catch (e) {
    throw new Error(`${(e as Error).message}; the screen shows:\n${(await screen(where)).filter((l) => l).join("\n")}`);
  }
}

/** Types a line into the focused terminal and presses Enter. */
async function typeLine(page: Page, text: string) {
  await page.keyboard.type(text, { delay: 5 });
  await page.keyboard.press("Enter");
}

/** The terminal's size in cells, from what xterm drew: rows counted, columns from the cell width. */
async function drawnSize(where: Locator): Promise<{ cols: number; rows: number }> {
  return where.evaluate((el) => {
    const rows = el.querySelectorAll(".xterm-rows > div").length;
    const measure = el.querySelector(".xterm-char-measure-element");
    const screenEl = el.querySelector(".xterm-screen");
    const text = measure?.textContent ?? "";
    const cell = measure && text.length ? measure.getBoundingClientRect().width / text.length : 0;
    const cols = cell && screenEl ? Math.round(screenEl.getBoundingClientRect().width / cell) : 0;
    return { cols, rows };
  });
}

/** Runs `stty size` and answers what it printed ("rows cols"). */
async function sttySize(page: Page, where: Locator, mark: string): Promise<{ rows: number; cols: number }> {
  await typeLine(page, `echo ${mark}-$(stty size | tr ' ' x)`);
  const re = new RegExp(`^${mark}-(\\d+)x(\\d+)$`);
  let found: RegExpExecArray | null = null;
  await screenHas(page, where, (lines) => lines.some((l) => (found = re.exec(l.trim())) !== null), `stty size (${mark})`);
  const m = found as RegExpExecArray | null;
  if (!m) throw new Error("stty size printed nothing");
  return { rows: Number(m[1]), cols: Number(m[2]) };
}

export async function terminalFlow(s: Session, token: string, v: { device: string; deviceId: string }): Promise<{ sessionId: string; hello: string }> {
  const { page } = s;
  const hello = `hello-${randomBytes(4).readUInt32BE(0)}`;
  await openDevice(page, v.device);
  await page.getByRole("link", { name: "Terminal", exact: true }).click();
  await page.waitForURL(new RegExp(`/devices/${v.deviceId}/terminal$`));
  const status = page.getByRole("status", { name: "Terminal status" });
  await waitFor(page, async () => (await status.innerText()).trim() === "active", "the terminal to be active", 20_000);
  const term = page.getByTestId("terminal");
  // The terminal has the focus as it opens: typing goes to the shell.
  await page.waitForTimeout(500);
  await typeLine(page, `echo ${hello}`);
  await screenHas(page, term, (lines) => lines.some((l) => l.trim() === hello), `the echoed line ${hello}`);
  await s.shot("terminal-echo");

  const sessionId = /Session\s+([0-9a-f-]{36})/.exec(await page.getByRole("main").innerText())?.[1];
  if (!sessionId) throw new Error("the terminal page does not name its session");

  // The browser window resizes: the terminal refits and the shell hears of it.
  const before = await sttySize(page, term, "size1");
  const drawn1 = await drawnSize(term);
  if (before.rows !== drawn1.rows || before.cols !== drawn1.cols) throw new Error(`stty size says ${before.rows}x${before.cols}, the terminal draws ${drawn1.rows}x${drawn1.cols}`);
  await page.setViewportSize({ width: 960, height: 640 });
  await waitFor(page, async () => {
    const d = await drawnSize(term);
    return d.cols !== drawn1.cols && d.rows !== drawn1.rows;
  }, "the terminal to refit to the smaller window", 10_000);
  await page.waitForTimeout(300);
  const drawn2 = await drawnSize(term);
  const after = await sttySize(page, term, "size2");
  if (after.rows !== drawn2.rows || after.cols !== drawn2.cols) throw new Error(`after the resize stty size says ${after.rows}x${after.cols}, the terminal draws ${drawn2.rows}x${drawn2.cols} (before: ${before.rows}x${before.cols})`);
  await s.shot("terminal-resized");
  await page.setViewportSize({ width: 1280, height: 800 });

  // Ctrl-C stops a long command and the shell takes the next one.
  await typeLine(page, "sleep 100");
  await page.waitForTimeout(1000);
  const t0 = Date.now();
  await page.keyboard.press("Control+c");
  const back = `back-${randomBytes(3).toString("hex")}`;
  await typeLine(page, `echo ${back}`);
  await screenHas(page, term, (lines) => lines.some((l) => l.trim() === back), "the shell to answer after Ctrl-C", 10_000);
  console.log(`  Ctrl-C → next command answered in ${Date.now() - t0} ms`);

  await page.getByRole("button", { name: "Disconnect" }).click();
  await waitFor(page, async () => (await status.innerText()).trim() === "ended", "the terminal to end");
  await page.getByRole("button", { name: "Reconnect" }).waitFor();
  await s.shot("terminal-disconnected");
  let row: RemoteSession | null = null;
  await waitFor(page, async () => {
    row = await call<RemoteSession>(token, "GET", `/api/v1/remote/sessions/${sessionId}`);
    return row.status === "disconnected";
  }, "the session to be disconnected in the API", 10_000);
  const ended = row as RemoteSession | null;
  if (!ended || ended.type !== "terminal" || !(ended.bytes_transferred > 0) || ended.duration_seconds === null) throw new Error(`the API holds the session ${JSON.stringify(ended)}`);
  return { sessionId, hello };
}

export async function recordingFlow(s: Session, token: string, v: { sessionId: string; hello: string; device: string }) {
  const { page } = s;
  await nav(page, "Remote sessions");
  const row = page.locator(`tr[data-session-id="${v.sessionId}"]`);
  await row.waitFor();
  const text = (await row.innerText()).replace(/\s+/g, " ");
  if (!text.includes(v.device) || !/Terminal/.test(text) || !/disconnected/.test(text)) throw new Error(`the session's row reads “${text}”`);
  await s.shot("remote-sessions");
  await row.getByRole("link", { name: "Replay" }).click();
  await page.waitForURL(new RegExp(`/remote/sessions/${v.sessionId}/recording$`));
  await settled(page);
  const rec = page.getByTestId("recording");
  await rec.locator(".xterm-rows").waitFor();
  const skip = page.getByRole("button", { name: "Skip to end" });
  if (await skip.isEnabled()) await skip.click();
  await screenHas(page, rec, (lines) => lines.some((l) => l.trim() === v.hello), `the replay to show ${v.hello}`, 10_000);
  await s.shot("recording");
  // The same text is in the file the API serves.
  const session = await call<RemoteSession>(token, "GET", `/api/v1/remote/sessions/${v.sessionId}`);
  if (!session.recording_url) throw new Error("the API names no recording for the session");
  const r = await fetch(`${BREEZE_URL}${session.recording_url}`, { headers: { authorization: `Bearer ${token}` } });
  const cast = await r.text();
  if (!r.ok || !cast.startsWith("{") || !cast.includes(v.hello)) throw new Error(`GET ${session.recording_url} answered ${r.status} without ${v.hello}`);
  // Play from the start at 4×: the same line comes back.
  await page.getByRole("button", { name: "4×" }).click();
  await page.getByRole("button", { name: "Play again" }).click();
  await screenHas(page, rec, (lines) => lines.some((l) => l.trim() === v.hello), `the replay at 4× to show ${v.hello}`, 20_000);
}

interface Listing {
  path: string;
  entries: Array<{ name: string; type: string; size: number }>;
}

export async function filesFlow(s: Session, token: string, v: { device: string; deviceId: string }) {
  const { page } = s;
  const files = (q: string) => `/api/v1/devices/${v.deviceId}/files${q}`;
  // A scratch folder for the run (setup through the API).
  const dir = `/tmp/breeze-e2e-files-${randomBytes(4).toString("hex")}`;
  await call(token, "POST", files("/mkdir"), { path: dir });
  const name = "report 2026.bin";
  const renamed = "report-final.bin";
  const content = randomBytes(300 * 1024 + 17);

  await openDevice(page, v.device);
  await page.getByRole("link", { name: "Files", exact: true }).click();
  await page.waitForURL(new RegExp(`/devices/${v.deviceId}/files`));
  await page.getByRole("heading", { name: new RegExp(`^Files: `) }).waitFor();
  await settled(page);
  await page.getByLabel("Folder path").fill(dir);
  await page.getByRole("button", { name: "Open", exact: true }).click();
  await page.getByText("This folder is empty").waitFor();

  // Upload: HEAD answers 404 for a file that is not there yet (the upload starts at 0).
  await s.expecting([{ status: 404, method: "HEAD", path: /\/files\/content\?/, why: "an upload asks how much of a new file is there" }], async () => {
    await page.getByLabel("Upload files").setInputFiles({ name, mimeType: "application/octet-stream", buffer: content });
    const item = page.getByRole("listitem", { name: `Upload of ${name}` });
    await waitFor(page, async () => (await item.getAttribute("data-state")) === "done", "the upload to finish", 30_000);
    const p = await item.getByRole("progressbar").getAttribute("value");
    if (p !== "100") throw new Error(`the finished upload's progress bar says ${p}`);
  });
  const row = (n: string) => page.locator(`tr[data-name="${n}"]`);
  await row(name).waitFor();
  await s.shot("files-uploaded");
  const listed = await call<Listing>(token, "GET", files(`?path=${encodeURIComponent(dir)}`));
  const entry = listed.entries.find((e) => e.name === name);
  if (!entry || entry.size !== content.length) throw new Error(`the API lists ${JSON.stringify(entry)} for the upload of ${content.length} bytes`);
  if (!(await row(name).innerText()).includes("300.0 KiB") && !(await row(name).innerText()).includes("300 KiB")) throw new Error(`the row reads ${await row(name).innerText()}`);

  // Download through the console: the same bytes as the API serves, and as were uploaded.
  const [dl] = await Promise.all([page.waitForEvent("download"), page.getByRole("button", { name: `Download ${name}` }).click()]);
  const saved = readFileSync((await dl.path()) ?? "");
  if (dl.suggestedFilename() !== name) throw new Error(`the download is named ${dl.suggestedFilename()}`);
  const r = await fetch(`${BREEZE_URL}${files(`/content?path=${encodeURIComponent(`${dir}/${name}`)}`)}`, { headers: { authorization: `Bearer ${token}` } });
  const served = Buffer.from(await r.arrayBuffer());
  if (!r.ok || !served.equals(content)) throw new Error(`the API serves ${served.length} bytes (status ${r.status}), not the ${content.length} uploaded`);
  if (!saved.equals(served)) throw new Error(`the console saved ${saved.length} bytes that differ from the ${served.length} the API serves`);

  // Rename.
  await page.getByRole("button", { name: `Rename ${name}` }).click();
  const rename = page.getByRole("dialog");
  await rename.getByLabel("New name").fill(renamed);
  await rename.getByRole("button", { name: "Rename", exact: true }).click();
  await row(renamed).waitFor();
  if (await row(name).count()) throw new Error("the old name is still listed after the rename");
  const afterRename = await call<Listing>(token, "GET", files(`?path=${encodeURIComponent(dir)}`));
  if (afterRename.entries.map((e) => e.name).join() !== renamed) throw new Error(`after the rename the API lists ${afterRename.entries.map((e) => e.name).join(", ")}`);

  // Delete, after the confirmation.
  await page.getByRole("button", { name: `Delete ${renamed}` }).click();
  const confirm = page.getByRole("dialog");
  await confirm.getByText(`${dir}/${renamed}`).waitFor();
  await s.shot("files-delete-confirm");
  await confirm.getByRole("button", { name: "Delete", exact: true }).click();
  await page.getByText("This folder is empty").waitFor();
  const afterDelete = await call<Listing>(token, "GET", files(`?path=${encodeURIComponent(dir)}`));
  if (afterDelete.entries.length) throw new Error(`after the delete the API lists ${afterDelete.entries.map((e) => e.name).join(", ")}`);

  // An upload cut after its first 4 MiB chunk (the second PUT answered 503 by the browser's
  // network layer) fails; Resume asks HEAD, sends only the rest, and the whole file verifies.
  const big = randomBytes(9 * 1024 * 1024 + 5);
  const bigName = "big.bin";
  const CHUNK = 4 * 1024 * 1024;
  const cutAt = (u: URL) => u.pathname.endsWith("/files/content") && u.searchParams.get("offset") === String(CHUNK);
  await page.route(cutAt, (r) =>
    r.request().method() === "PUT" ? r.fulfill({ status: 503, contentType: "application/json", body: JSON.stringify({ error: { code: "unavailable", message: "e2e: the connection was cut" } }) }) : r.continue(),
  );
  const item = page.getByRole("listitem", { name: `Upload of ${bigName}` });
  await s.expecting(
    [
      { status: 404, method: "HEAD", path: /\/files\/content\?/, why: "an upload asks how much of a new file is there" },
      { status: 503, method: "PUT", path: /\/files\/content\?/, why: "the run cuts the upload's second chunk" },
    ],
    async () => {
      await page.getByLabel("Upload files").setInputFiles({ name: bigName, mimeType: "application/octet-stream", buffer: big });
      await waitFor(page, async () => (await item.getAttribute("data-state")) === "failed", "the cut upload to fail", 30_000);
    },
  );
  await item.getByText("e2e: the connection was cut").waitFor();
  const half = await fetch(`${BREEZE_URL}${files(`/content?path=${encodeURIComponent(`${dir}/${bigName}`)}`)}`, { method: "HEAD", headers: { authorization: `Bearer ${token}` } });
  if (half.headers.get("content-length") !== String(CHUNK)) throw new Error(`after the cut the device holds ${half.headers.get("content-length")} bytes, expected ${CHUNK}`);
  await s.shot("files-upload-cut");
  await page.unroute(cutAt);
  await item.getByRole("button", { name: "Resume" }).click();
  await waitFor(page, async () => (await item.getAttribute("data-state")) === "done", "the resumed upload to finish", 60_000);
  await item.getByText("Resumed at 4.0 MiB.").waitFor();
  await s.shot("files-upload-resumed");
  const whole = await fetch(`${BREEZE_URL}${files(`/content?path=${encodeURIComponent(`${dir}/${bigName}`)}`)}`, { headers: { authorization: `Bearer ${token}` } });
  const got = Buffer.from(await whole.arrayBuffer());
  if (!whole.ok || createHash("sha256").update(got).digest("hex") !== createHash("sha256").update(big).digest("hex")) throw new Error(`the resumed upload is ${got.length} bytes on the device with another SHA-256 than the ${big.length} sent`);
  // Its FileTransfer row is completed with the whole size.
  const transfers = await call<{ data: Array<{ direction: string; remote_path: string; status: string; size_bytes: number | null }> }>(token, "GET", `/api/v1/file-transfers?device_id=${v.deviceId}&limit=50`);
  const rows = transfers.data.filter((t) => t.direction === "upload" && t.remote_path.endsWith(bigName));
  if (!rows.some((t) => t.status === "completed" && t.size_bytes === big.length)) throw new Error(`no completed upload row of ${big.length} bytes for ${bigName}: ${JSON.stringify(rows)}`);

  // A folder that does not exist: the API's 404 is shown as such.
  await s.expecting([{ status: 404, method: "GET", path: /\/files\?path=/, why: "a folder that does not exist" }], async () => {
    await page.getByLabel("Folder path").fill(`${dir}/missing`);
    await page.getByRole("button", { name: "Open", exact: true }).click();
    await page.getByRole("alert").filter({ hasText: "Not found" }).waitFor();
    await s.shot("files-not-found");
  });
  await call(token, "DELETE", files(`?path=${encodeURIComponent(dir)}&recursive=true`));
}
