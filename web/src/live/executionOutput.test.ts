import { QueryClient } from "@tanstack/react-query";
import { describe, expect, it } from "vitest";
import type { LiveEvent, ScriptExecution } from "../api/types";
import { applyChunk, applyOutputEvent, outputChunk } from "./executionOutput";

const exec = (over: Partial<ScriptExecution> = {}): ScriptExecution => ({
  id: "e1",
  script_id: "s1",
  script_name: "probe",
  script_version: 1,
  parameters: {},
  stdout_truncated: false,
  stderr_truncated: false,
  trigger_type: "manual",
  device_id: "d1",
  device_hostname: "host",
  status: "running",
  exit_code: null,
  stdout: null,
  stderr: null,
  error_message: null,
  started_at: null,
  completed_at: null,
  created_at: "2026-01-01T00:00:00Z",
  ...over,
});

const event = (offset: number, data: string, stream: "stdout" | "stderr" = "stdout") =>
  ({ type: "execution.output", execution_id: "e1", device_id: "d1", command_id: "c1", stream, offset, data }) satisfies LiveEvent;
/** An event as a faulty or newer server might send it: not what the schema allows. */
const malformed = (e: object) => e as unknown as LiveEvent;

describe("live script output", () => {
  it("appends chunks in order, counting offsets in UTF-8 bytes", () => {
    let e = exec();
    for (const [offset, data] of [[0, "héllo "], [7, "wörld"]] as const) {
      const r = applyChunk(e, outputChunk(event(offset, data))!);
      expect(r.kind).toBe("appended");
      if (r.kind === "appended") e = r.execution;
    }
    expect(e.stdout).toBe("héllo wörld");
    expect(e.stderr).toBeNull();
  });

  it("skips a chunk it already holds and reports a gap", () => {
    const e = exec({ stdout: "abc" });
    expect(applyChunk(e, outputChunk(event(0, "abc"))!).kind).toBe("unchanged");
    expect(applyChunk(e, outputChunk(event(5, "x"))!).kind).toBe("gap");
  });

  it("leaves a finished execution alone: its result is what counts", () => {
    expect(applyChunk(exec({ status: "completed", stdout: "" }), outputChunk(event(0, "late"))!).kind).toBe("unchanged");
  });

  it("ignores other events and malformed chunks", () => {
    expect(outputChunk({ type: "execution.updated", execution_id: "e1", device_id: "d1", command_id: "c1", status: "running" })).toBeNull();
    expect(outputChunk(malformed({ ...event(0, "x"), stream: "stdin" }))).toBeNull();
    expect(outputChunk(malformed({ ...event(0, "x"), offset: "0" }))).toBeNull();
  });

  it("updates the single-execution and the list queries, and refetches after a gap", async () => {
    const client = new QueryClient();
    client.setQueryData(["executions", "e1"], exec());
    client.setQueryData(["executions", "device", "d1"], { data: [exec({ id: "e0" }), exec()] });
    applyOutputEvent(client, event(0, "one\n"));
    applyOutputEvent(client, event(0, "oops\n", "stderr"));
    expect(client.getQueryData<ScriptExecution>(["executions", "e1"])?.stdout).toBe("one\n");
    const page = client.getQueryData<{ data: ScriptExecution[] }>(["executions", "device", "d1"]);
    expect(page?.data[1].stdout).toBe("one\n");
    expect(page?.data[1].stderr).toBe("oops\n");
    expect(page?.data[0].stdout).toBeNull();
    applyOutputEvent(client, event(100, "later"));
    expect(client.getQueryState(["executions", "e1"])?.isInvalidated).toBe(true);
  });
});
