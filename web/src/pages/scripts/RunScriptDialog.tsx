import { useEffect, useMemo, useState } from "react";
import { useQuery, useQueries } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { components } from "../../api/schema";
import type { ExecuteScript, Script, ScriptExecution } from "../../api/types";
import { Dialog } from "../../components/ui/dialog";
import { Button } from "../../components/ui/button";
import { Field, Select } from "../../components/ui/form";
import { ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Badge } from "../../components/ui/card";
import { ALL, fetchAll } from "../../lib/queries";
import { initialValues, normalizeParams, toPayload, validateParams, type ParamValues } from "../../lib/scriptParams";
import { errorMessage } from "../../api/client";
import { ParamForm } from "./ParamForm";
import { ExecutionOutput, executionTone, isTerminal } from "./ExecutionOutput";

type Started = components["schemas"]["ExecutionRef"];

/** Choose a script (unless given), fill its parameters, run it and watch each device. */
export function RunScriptDialog({
  open,
  onClose,
  target,
  targetLabel,
  script: fixedScript,
}: {
  open: boolean;
  onClose: () => void;
  target: ExecuteScript;
  targetLabel: string;
  script?: Script;
}) {
  const scripts = useQuery({
    queryKey: ["scripts", "all"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/scripts", { params: { query: { sort: "name", limit: ALL, cursor } }, signal })),
    enabled: open && !fixedScript,
  });
  const [scriptId, setScriptId] = useState(fixedScript?.id ?? "");
  const script = fixedScript ?? scripts.data?.find((s) => s.id === scriptId);
  const params = useMemo(() => normalizeParams(script?.parameters), [script]);
  const [values, setValues] = useState<ParamValues>({});
  const [showErrors, setShowErrors] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [started, setStarted] = useState<Started[] | null>(null);

  useEffect(() => {
    setValues(initialValues(params));
    setShowErrors(false);
  }, [params]);

  const errors = showErrors ? validateParams(params, values) : {};

  const run = async () => {
    if (!script) {
      setError("Choose a script.");
      return;
    }
    setShowErrors(true);
    if (Object.keys(validateParams(params, values)).length) return;
    setBusy(true);
    setError(null);
    try {
      const r = await api.POST("/api/v1/scripts/{id}/execute", { params: { path: { id: script.id } }, body: { ...target, parameters: toPayload(params, values) } });
      setStarted(r.data);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog
      open={open}
      onClose={onClose}
      wide={!!started}
      title={started ? `Running ${script?.name ?? "script"}` : "Run a script"}
      footer={
        started ? (
          <Button onClick={onClose}>Close</Button>
        ) : (
          <>
            <Button variant="secondary" onClick={onClose}>
              Cancel
            </Button>
            <Button onClick={run} loading={busy} disabled={!script}>
              Run on {targetLabel}
            </Button>
          </>
        )
      }
    >
      {started ? (
        <Progress started={started} />
      ) : (
        <div className="space-y-4">
          <p className="text-sm text-muted-fg">Target: {targetLabel}</p>
          {!fixedScript &&
            (scripts.isPending ? (
              <Loading label="Loading scripts…" />
            ) : scripts.isError ? (
              <ErrorState error={scripts.error} />
            ) : (
              <Field label="Script">
                {(p) => (
                  <Select {...p} value={scriptId} onChange={(e) => setScriptId(e.target.value)} autoFocus>
                    <option value="">Choose a script…</option>
                    {scripts.data.map((s) => (
                      <option key={s.id} value={s.id}>
                        {s.name} ({s.language})
                      </option>
                    ))}
                  </Select>
                )}
              </Field>
            ))}
          {script && (
            <>
              {script.description && <p className="text-sm">{script.description}</p>}
              <ParamForm params={params} values={values} errors={errors} onChange={setValues} />
            </>
          )}
          {error && <Notice tone="danger">{error}</Notice>}
        </div>
      )}
    </Dialog>
  );
}

function Progress({ started }: { started: Started[] }) {
  const results = useQueries({
    queries: started.map((s) => ({
      queryKey: ["executions", s.id],
      queryFn: ({ signal }: { signal: AbortSignal }) => api.GET("/api/v1/script-executions/{id}", { params: { path: { id: s.id } }, signal }),
      // Live events refresh these at once; polling is the fallback when the stream is down.
      refetchInterval: (q: { state: { data?: ScriptExecution } }) => (q.state.data && isTerminal(q.state.data.status) ? false : 2000),
    })),
  });
  const done = results.filter((r) => r.data && isTerminal(r.data.status)).length;
  const [open, setOpen] = useState<string | null>(started.length === 1 ? started[0].id : null);
  if (started.length === 0) return <Notice tone="warn">No device matched the target, so nothing ran.</Notice>;
  return (
    <div className="space-y-3">
      <p className="text-sm" aria-live="polite">
        {done} of {started.length} finished
      </p>
      <div className="h-2 overflow-hidden rounded bg-muted" role="progressbar" aria-valuemin={0} aria-valuemax={started.length} aria-valuenow={done}>
        <div className="h-full bg-primary transition-all" style={{ width: `${(done / started.length) * 100}%` }} />
      </div>
      <ul className="divide-y divide-border rounded-md border border-border">
        {started.map((s, i) => {
          const ex = results[i].data;
          const status = ex?.status ?? s.status;
          return (
            <li key={s.id} className="px-3 py-2 text-sm">
              <button type="button" className="flex w-full items-center justify-between gap-2 text-left" aria-expanded={open === s.id} onClick={() => setOpen(open === s.id ? null : s.id)}>
                <span className="truncate font-medium">{ex?.device_hostname ?? s.device_id}</span>
                <span className="flex items-center gap-2">
                  {ex?.exit_code !== null && ex?.exit_code !== undefined && <span className="text-xs text-muted-fg">exit {ex.exit_code}</span>}
                  <Badge tone={executionTone(status)}>{status}</Badge>
                </span>
              </button>
              {open === s.id && <div className="mt-2">{ex ? <ExecutionOutput execution={ex} /> : <Loading />}</div>}
            </li>
          );
        })}
      </ul>
    </div>
  );
}
