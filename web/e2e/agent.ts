// "This machine" for the browser run: the real `breeze-agent`, installed from what the user
// copied out of the console's new-key dialog.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync } from "node:fs";

export interface Agent {
  /** How it was installed, for the log. */
  how: string;
  stop: () => void;
}

function watch(child: ChildProcess, name: string): ChildProcess {
  let log = "";
  const keep = (d: Buffer) => {
    log = (log + d.toString()).slice(-4000);
  };
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  child.on("exit", (code, signal) => {
    if (code !== 0 && signal !== "SIGTERM") console.log(`${name} exited (${code ?? signal}); its last output:\n${log}`);
  });
  return child;
}

/**
 * Runs on this machine what the new-key dialog told the user to run, and leaves the agent
 * running in the foreground. This is the one place that knows what the dialog offers:
 *  - the install one-liner `curl -fsSL <server>/install.sh | sudo sh -s -- --key <key>`: run
 *    without sudo, with `--no-service` (the agent stays in the foreground) and
 *    E2E_INSTALL_ARGS (default `--prefix <BREEZE_AGENT_STATE_DIR>`), so nothing is installed
 *    system-wide;
 *  - the enroll command `breeze-agent enroll --server <url> --key <key>`: the built agent
 *    (BREEZE_AGENT_BIN) enrolls with exactly those arguments, then `breeze-agent run`.
 */
export function installFromDialog(copied: string): Agent {
  const state = process.env.BREEZE_AGENT_STATE_DIR;
  if (!state) throw new Error("BREEZE_AGENT_STATE_DIR must name the agent's state directory");
  mkdirSync(state, { recursive: true });
  const command = copied.trim();

  if (/\/install\.sh\b/.test(command)) {
    const extra = process.env.E2E_INSTALL_ARGS ?? `--prefix ${state}`;
    const line = `${command.replace(/\bsudo\s+/g, "")} --no-service ${extra}`;
    const child = watch(spawn("sh", ["-c", line], { stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, BREEZE_AGENT_STATE_DIR: state } }), "install.sh");
    return {
      how: line,
      stop: () => {
        // The pipeline's process group: sh, and the agent it runs in the foreground.
        if (child.pid) process.kill(-child.pid, "SIGTERM");
      },
    };
  }

  const m = /breeze-agent\s+enroll\s+(.*)$/m.exec(command);
  if (!m) throw new Error(`the dialog offered neither an install command nor an enroll command: ${command}`);
  const args = m[1].trim().split(/\s+/);
  const bin = process.env.BREEZE_AGENT_BIN;
  if (!bin) throw new Error("BREEZE_AGENT_BIN must name the built agent");
  const enroll = spawnSync(bin, ["--state-dir", state, "enroll", ...args], { encoding: "utf8" });
  if (enroll.status !== 0) throw new Error(`breeze-agent enroll failed (${enroll.status}): ${enroll.stderr}${enroll.stdout}`);
  const child = watch(spawn(bin, ["--state-dir", state, "run"], { stdio: ["ignore", "ignore", "pipe"] }), "breeze-agent");
  return {
    how: `breeze-agent enroll ${args.map((a) => (a.length > 24 ? `${a.slice(0, 8)}…` : a)).join(" ")}; breeze-agent run`,
    stop: () => {
      child.kill("SIGTERM");
    },
  };
}
