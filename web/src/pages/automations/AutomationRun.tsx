// One automation run: what started it, the device counts, and each device's result with its
// step log (the step's place in the tree, type, status, exit code, output, message). Polls
// while the run is still going.
import { Link, useParams } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { AutomationRunDevice } from "../../api/types";
import { Badge, Card, DefinitionList, PageHeader } from "../../components/ui/card";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Table, Td, Th } from "../../components/ui/table";
import { contextEntries } from "../../lib/alerts";
import { formatDateTime } from "../../lib/format";
import { pathDepth, pathLabel, runActive, runStatusTone, STEP_LABELS, type StepType } from "../../lib/automations";

export default function AutomationRunPage() {
  const { id = "" } = useParams();
  const q = useQuery({
    queryKey: ["automation-run", id],
    queryFn: ({ signal }) => api.GET("/api/v1/automation-runs/{id}", { params: { path: { id } }, signal }),
    refetchInterval: (q) => (q.state.data && (runActive(q.state.data.status) || q.state.data.devices.some((d) => runActive(d.status))) ? 1500 : false),
  });
  if (q.isPending) return <Loading label="Loading the run…" />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load the run" />;
  const r = q.data;
  const trigger = contextEntries(r.trigger.context).filter(([, v]) => v !== "null");
  return (
    <div className="space-y-4">
      <PageHeader
        title={`Run of ${r.automation_name}`}
        description={
          <Link to={`/automations/${r.automation_id}`} className="text-primary hover:underline">
            ← {r.automation_name}
          </Link>
        }
        actions={
          <span role="status" aria-label="Run status">
            <Badge tone={runStatusTone(r.status)}>{r.status}</Badge>
          </span>
        }
      />
      {r.error && <Notice tone="danger">{r.error}</Notice>}
      <Card>
        <DefinitionList
          items={[
            ["Trigger", `${r.trigger.type}${trigger.length ? ` (${trigger.map(([k, v]) => `${k}: ${v}`).join(", ")})` : ""}`],
            ["Started", formatDateTime(r.started_at)],
            ["Finished", r.finished_at ? formatDateTime(r.finished_at) : runActive(r.status) ? "still running" : "—"],
            ["Devices", `${r.devices_targeted} targeted · ${r.devices_succeeded} succeeded · ${r.devices_failed} failed · ${r.devices_skipped} skipped`],
            ...(r.scheduled_for ? ([["Schedule slot", formatDateTime(r.scheduled_for)]] as Array<[string, string]>) : []),
            ...(r.depth > 0 ? ([["Nested", `depth ${r.depth}`]] as Array<[string, string]>) : []),
          ]}
        />
      </Card>
      {r.devices.length === 0 ? (
        <EmptyState title="No devices in this run">No targeted device matched when the run started.</EmptyState>
      ) : (
        r.devices.map((d) => <DeviceResult key={d.device_id} d={d} />)
      )}
    </div>
  );
}

function DeviceResult({ d }: { d: AutomationRunDevice }) {
  return (
    <Card>
      <section aria-label={`Result on ${d.hostname}`}>
        <div className="mb-3 flex flex-wrap items-center gap-3">
          <h2 className="text-sm font-semibold">
            <Link to={`/devices/${d.device_id}`} className="text-primary hover:underline">
              {d.hostname}
            </Link>
          </h2>
          <Badge tone={runStatusTone(d.status)}>{d.status}</Badge>
          <span className="text-xs text-muted-fg">
            {d.started_at ? formatDateTime(d.started_at) : "not started"}
            {d.finished_at && ` → ${formatDateTime(d.finished_at)}`}
          </span>
        </div>
        {d.error && (
          <p className="mb-2 text-sm text-danger" role="alert">
            {d.error}
          </p>
        )}
        {d.steps.length === 0 ? (
          <p className="text-sm text-muted-fg">No step has run on this device.</p>
        ) : (
          <Table>
            <caption className="sr-only">Step log of {d.hostname}</caption>
            <thead>
              <tr>
                <Th className="w-10">#</Th>
                <Th>Step</Th>
                <Th>Status</Th>
                <Th className="hidden sm:table-cell">Exit code</Th>
                <Th>Output and message</Th>
              </tr>
            </thead>
            <tbody>
              {d.steps.map((s) => (
                <tr key={s.index} className="align-top">
                  <Td className="text-muted-fg">{s.index + 1}</Td>
                  <Td>
                    <div style={{ paddingLeft: `${pathDepth(s.path) * 1}rem` }}>
                      <span className="font-mono text-xs text-muted-fg">{pathLabel(s.path)}</span> <span className="font-medium">{STEP_LABELS[s.type as StepType] ?? s.type}</span>
                    </div>
                  </Td>
                  <Td>
                    <Badge tone={runStatusTone(s.status)}>{s.status}</Badge>
                  </Td>
                  <Td className="hidden font-mono sm:table-cell">{s.exit_code ?? "—"}</Td>
                  <Td className="max-w-xl">
                    {s.message && <p className="text-sm">{s.message}</p>}
                    {s.output && <pre className="mt-1 max-h-48 overflow-auto whitespace-pre-wrap rounded bg-muted p-2 font-mono text-xs">{s.output}</pre>}
                    {!s.message && !s.output && <span className="text-muted-fg">—</span>}
                    {s.execution_id && <span className="sr-only">execution {s.execution_id}</span>}
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </section>
    </Card>
  );
}
