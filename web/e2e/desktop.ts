// Remote desktop in the browser run (issue 12): a virtual X display (Xvfb, its root painted
// a known colour with xsetroot) that the agent inherits as $DISPLAY, then the console's
// desktop page connected to it: the canvas shows that colour, and the screenshot is kept as
// web/e2e/artifacts/desktop.png (a CI artifact; the directory is git-ignored). The frames
// then come over WebRTC: the agent may use loopback only (BREEZE_AGENT_WEBRTC_INTERFACES=lo,
// inherited like DISPLAY; Chromium gathers loopback candidates, see driver.ts), the toolbar
// says "Direct (WebRTC)" and a frame drawn from the data channel shows the same colour.
// Needs the packages xvfb and x11-xserver-utils; without Xvfb the step is skipped with the
// reason printed, unless CI is set.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Session } from "./driver";
import { BREEZE_URL, waitFor } from "./driver";

/** The root window's colour. */
export const ROOT_RGB: [number, number, number] = [0xcc, 0x33, 0x33];
const ARTIFACTS = join(import.meta.dirname, "artifacts");

export interface Display {
  how: string;
  stop: () => void;
}

/** Starts Xvfb and points $DISPLAY (inherited by the agent started later) at it. */
export async function startDisplay(): Promise<Display | null> {
  if (spawnSync("Xvfb", ["-help"]).error) {
    if (process.env.CI) throw new Error("Xvfb is not installed and CI is set: install xvfb and x11-xserver-utils");
    console.log("  skipping the remote desktop: Xvfb is not installed (apt-get install xvfb x11-xserver-utils)");
    return null;
  }
  const child = spawn("Xvfb", ["-displayfd", "1", "-screen", "0", "1280x800x24", "-nolisten", "tcp", "-noreset"], { stdio: ["ignore", "pipe", "ignore"] });
  const n = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("Xvfb did not report its display in 15 s")), 15_000);
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve(out.trim());
      }
    });
    child.on("exit", (code) => reject(new Error(`Xvfb exited (${code})`)));
  });
  const display = `:${n}`;
  const hex = `#${ROOT_RGB.map((c) => c.toString(16).padStart(2, "0")).join("")}`;
  // -noreset above: without it the server resets when xsetroot (its only client) leaves,
  // and the root goes back to black.
  const paint = spawnSync("xsetroot", ["-display", display, "-solid", hex]);
  if (paint.status !== 0) throw new Error(`xsetroot failed: ${paint.stderr?.toString() ?? paint.error}`);
  process.env.DISPLAY = display;
  // The agent's WebRTC candidates: loopback only (a test never uses another interface).
  process.env.BREEZE_AGENT_WEBRTC_INTERFACES = "lo";
  return { how: `Xvfb on ${display}`, stop: () => child.kill("SIGTERM") };
}

/** The desktop page shows the device's screen: the canvas pixel at the centre has the root's colour. */
export async function desktopShowsFrame(s: Session, deviceId: string) {
  const page = s.page;
  await page.goto(`${BREEZE_URL}/devices/${deviceId}/desktop`);
  await page.getByRole("heading", { name: "Remote desktop" }).waitFor();
  await page.getByRole("button", { name: "Connect" }).click();
  const canvas = page.getByTestId("desktop-canvas");
  await waitFor(page, async () => (await canvas.getAttribute("data-seq")) !== null, "the first desktop frame", 60_000);
  const px = await canvas.evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext("2d")?.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data;
    return d ? [d[0], d[1], d[2], c.width, c.height] : null;
  });
  if (!px) throw new Error("the desktop canvas has no 2d context");
  const [r, g, b, w, h] = px;
  if (w !== 1280 || h !== 800) throw new Error(`the canvas is ${w}×${h}, not the display's 1280×800`);
  if (![r, g, b].every((c, i) => Math.abs(c - ROOT_RGB[i]) <= 12)) throw new Error(`the canvas centre is rgb(${r}, ${g}, ${b}), not the display's rgb(${ROOT_RGB.join(", ")})`);
  const status = page.getByTestId("desktop-status");
  await waitFor(page, async () => /^Live/.test((await status.textContent()) ?? ""), "the live status", 15_000);
  // The direct path: the toolbar says so, and a frame drawn from the data channel (the
  // whole monitor the agent sends after the switch) shows the display's colour.
  const transport = page.getByTestId("desktop-transport");
  await waitFor(page, async () => (await transport.textContent()) === "Direct (WebRTC)", "the Direct (WebRTC) transport", 30_000);
  await waitFor(page, async () => (await canvas.getAttribute("data-path")) === "webrtc", "a frame drawn from the data channel", 15_000);
  const direct = await canvas.evaluate((el) => {
    const c = el as HTMLCanvasElement;
    const d = c.getContext("2d")?.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data;
    return d ? [d[0], d[1], d[2]] : null;
  });
  if (!direct || !direct.every((c, i) => Math.abs(c - ROOT_RGB[i]) <= 12)) throw new Error(`after the switch to WebRTC the canvas centre is ${JSON.stringify(direct)}, not rgb(${ROOT_RGB.join(", ")})`);
  mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: join(ARTIFACTS, "desktop.png") });
  await page.getByRole("button", { name: "Disconnect" }).click();
  await waitFor(page, async () => ((await status.textContent()) ?? "").startsWith("Disconnected"), "the disconnected status", 15_000);
}
