// Automations: the list (trigger in words, enabled, the last run's status) with Run now.
import { useState } from "react";
import { Link, useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { errorMessage } from "../../api/client";
import type { Automation } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button, buttonClass } from "../../components/ui/button";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useAutomations, useLastRun } from "../../lib/automationQueries";
import { describeTrigger, runStatusTone } from "../../lib/automations";
import { relativeTime } from "../../lib/format";

export default function AutomationsList() {
  const perms = usePerms();
  const scope = useOrgScope();
  const list = useAutomations(scope.orgId);
  const canWrite = perms.can("automations:write");
  return (
    <div>
      <PageHeader
        title="Automations"
        description="Workflows that run by themselves: on a schedule, on an event, from a webhook, or when you press Run now."
        actions={
          canWrite && (
            <Link to="/automations/new" className={buttonClass()}>
              New automation
            </Link>
          )
        }
      />
      {list.isPending ? (
        <Loading label="Loading automations…" />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} title="Could not load automations" />
      ) : list.data.length === 0 ? (
        <EmptyState
          title="No automations yet"
          action={
            canWrite && (
              <Link to="/automations/new" className={buttonClass()}>
                Build an automation
              </Link>
            )
          }
        >
          Nightly maintenance, a fix when an alert fires, a tag when a device enrolls: build it once and let it run.
        </EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th className="hidden md:table-cell">Trigger</Th>
              <Th>State</Th>
              <Th className="hidden sm:table-cell">Last run</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {list.data.map((a) => (
              <Row key={a.id} a={a} />
            ))}
          </tbody>
        </Table>
      )}
    </div>
  );
}

function Row({ a }: { a: Automation }) {
  const perms = usePerms();
  const last = useLastRun(a.id);
  const run = useRunNow();
  return (
    <tr>
      <Td>
        <Link to={`/automations/${a.id}`} className="font-medium text-primary hover:underline">
          {a.name}
        </Link>
        {a.description && <div className="text-xs text-muted-fg">{a.description}</div>}
      </Td>
      <Td className="hidden md:table-cell">{describeTrigger(a.trigger)}</Td>
      <Td>
        <Badge tone={a.enabled ? "ok" : "muted"}>{a.enabled ? "Enabled" : "Disabled"}</Badge>
      </Td>
      <Td className="hidden sm:table-cell">
        {last.data ? (
          <Link to={`/automation-runs/${last.data.id}`} className="inline-flex items-center gap-2 hover:underline">
            <Badge tone={runStatusTone(last.data.status)}>{last.data.status}</Badge>
            <span className="text-xs text-muted-fg">{relativeTime(last.data.started_at)}</span>
          </Link>
        ) : last.isPending ? (
          <span className="text-xs text-muted-fg">…</span>
        ) : (
          <span className="text-xs text-muted-fg">never</span>
        )}
      </Td>
      <Td className="whitespace-nowrap text-right">
        {perms.can("automations:execute") && a.enabled && (
          <Button size="sm" variant="ghost" loading={run.busy === a.id} onClick={() => void run.start(a)} aria-label={`Run ${a.name} now`}>
            Run now
          </Button>
        )}
      </Td>
    </tr>
  );
}

/** "Run now": starts a manual run and opens it. */
export function useRunNow() {
  const [busy, setBusy] = useState<string | null>(null);
  const qc = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const start = async (a: Pick<Automation, "id" | "name">) => {
    setBusy(a.id);
    try {
      const r = await api.POST("/api/v1/automations/{id}/run", { params: { path: { id: a.id } }, body: {} });
      void qc.invalidateQueries({ queryKey: ["automation-runs", a.id] });
      if (r.run_id) navigate(`/automation-runs/${r.run_id}`);
      else toast(`${a.name} did not start (it is disabled).`, "danger");
    } catch (e) {
      toast(`Could not run ${a.name}: ${errorMessage(e)}`, "danger");
    } finally {
      setBusy(null);
    }
  };
  return { busy, start };
}
