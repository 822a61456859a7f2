import { useState } from "react";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { Badge, Card, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Input, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Table, Td, Th } from "../../components/ui/table";
import { useOrgScope } from "../../lib/scope";
import { formatDateTime } from "../../lib/format";
import { errorMessage } from "../../api/client";

interface Filters {
  actor: string;
  action: string;
  resource_type: string;
  result: string;
  from: string;
  to: string;
}
const EMPTY: Filters = { actor: "", action: "", resource_type: "", result: "", from: "", to: "" };

function toQuery(f: Filters, orgId: string | null) {
  return {
    actor: f.actor.trim() || undefined,
    action: f.action.trim() || undefined,
    resource_type: f.resource_type.trim() || undefined,
    result: f.result || undefined,
    org_id: orgId ?? undefined,
    from: f.from ? new Date(f.from).toISOString() : undefined,
    to: f.to ? new Date(f.to).toISOString() : undefined,
  };
}

export default function Audit() {
  const scope = useOrgScope();
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  const [open, setOpen] = useState<string | null>(null);
  const [exportError, setExportError] = useState<string | null>(null);
  const query = toQuery(filters, scope.orgId);
  const logs = useInfiniteQuery({
    queryKey: ["audit", "logs", query],
    queryFn: ({ pageParam, signal }) => api.GET("/api/v1/audit/logs", { params: { query: { ...query, limit: 100, cursor: pageParam } }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor ?? undefined,
  });
  const summary = useQuery({
    queryKey: ["audit", "summary", scope.orgId],
    queryFn: ({ signal }) => api.GET("/api/v1/audit/summary", { params: { query: { org_id: scope.orgId ?? undefined } }, signal }),
  });
  const rows = logs.data?.pages.flatMap((p) => p.data) ?? [];
  const set = (k: keyof Filters, v: string) => setDraft((d) => ({ ...d, [k]: v }));

  const download = async (format: "csv" | "json") => {
    setExportError(null);
    try {
      const blob = await api.download("/api/v1/audit/logs/export", { params: { query: { ...query, format } } });
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = `breeze-audit-${new Date().toISOString().slice(0, 10)}.${format}`;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (e) {
      setExportError(errorMessage(e));
    }
  };

  return (
    <div className="space-y-4">
      <PageHeader
        title="Audit log"
        description="Every change and sign-in, append-only and chained so tampering is detectable (breeze audit verify)."
        actions={
          <>
            <Button variant="secondary" onClick={() => download("csv")}>
              Export CSV
            </Button>
            <Button variant="secondary" onClick={() => download("json")}>
              Export JSON
            </Button>
          </>
        }
      />
      {exportError && <Notice tone="danger">Export failed: {exportError}</Notice>}
      {summary.data && (
        <div className="grid grid-cols-2 gap-3 md:grid-cols-4">
          <Card>
            <p className="text-xs uppercase text-muted-fg">Events</p>
            <p className="text-xl font-semibold">{summary.data.total}</p>
          </Card>
          {summary.data.by_result.slice(0, 3).map((r) => (
            <Card key={r.key}>
              <p className="text-xs uppercase text-muted-fg">{r.key}</p>
              <p className="text-xl font-semibold">{r.count}</p>
            </Card>
          ))}
        </div>
      )}
      <form
        className="flex flex-wrap items-end gap-2"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setFilters(draft);
        }}
      >
        <Input aria-label="Actor (e-mail or id)" placeholder="Actor e-mail or id" className="w-48" value={draft.actor} onChange={(e) => set("actor", e.target.value)} />
        <Input aria-label="Action" placeholder="Action, e.g. auth." className="w-40" value={draft.action} onChange={(e) => set("action", e.target.value)} />
        <Input aria-label="Resource type" placeholder="Resource type" className="w-36" value={draft.resource_type} onChange={(e) => set("resource_type", e.target.value)} />
        <Select aria-label="Result" className="w-auto" value={draft.result} onChange={(e) => set("result", e.target.value)}>
          <option value="">Any result</option>
          <option value="success">success</option>
          <option value="failure">failure</option>
          <option value="denied">denied</option>
        </Select>
        <label className="text-xs text-muted-fg">
          From
          <Input type="datetime-local" className="w-auto" value={draft.from} onChange={(e) => set("from", e.target.value)} />
        </label>
        <label className="text-xs text-muted-fg">
          To
          <Input type="datetime-local" className="w-auto" value={draft.to} onChange={(e) => set("to", e.target.value)} />
        </label>
        <Button type="submit">Apply</Button>
        <Button
          variant="ghost"
          onClick={() => {
            setDraft(EMPTY);
            setFilters(EMPTY);
          }}
        >
          Reset
        </Button>
      </form>
      {logs.isPending ? (
        <Loading />
      ) : logs.isError ? (
        <ErrorState error={logs.error} retry={() => logs.refetch()} />
      ) : rows.length === 0 ? (
        <EmptyState title="No events match" />
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Time</Th>
              <Th>Actor</Th>
              <Th>Action</Th>
              <Th className="hidden md:table-cell">Resource</Th>
              <Th>Result</Th>
            </tr>
          </thead>
          <tbody>
            {rows.map((e) => (
              <>
                <tr key={e.id} className="cursor-pointer hover:bg-muted/50" onClick={() => setOpen(open === e.id ? null : e.id)}>
                  <Td className="whitespace-nowrap text-xs">
                    <button type="button" aria-expanded={open === e.id} className="text-left hover:underline" onClick={(ev) => (ev.stopPropagation(), setOpen(open === e.id ? null : e.id))}>
                      {formatDateTime(e.timestamp)}
                    </button>
                  </Td>
                  <Td className="max-w-48 truncate">{e.actor_email ?? e.actor_type}</Td>
                  <Td className="max-w-xs">
                    <span className="font-mono text-xs">{e.action}</span>
                    {e.result !== "success" && e.error_message && (
                      <span className="block truncate text-xs text-danger" title={e.error_message}>
                        {e.error_message}
                      </span>
                    )}
                  </Td>
                  <Td className="hidden max-w-56 truncate md:table-cell">
                    {e.resource_type}
                    {e.resource_name ? `: ${e.resource_name}` : e.resource_type === "http_request" && e.resource_id ? `: ${e.resource_id}` : ""}
                  </Td>
                  <Td>
                    <Badge tone={e.result === "success" ? "ok" : "danger"}>{e.result}</Badge>
                  </Td>
                </tr>
                {open === e.id && (
                  <tr key={`${e.id}-d`}>
                    <Td colSpan={5} className="bg-muted/40">
                      <div className="grid gap-1 text-xs sm:grid-cols-2">
                        <span>IP: {e.ip_address ?? "—"}</span>
                        <span className="truncate">User agent: {e.user_agent ?? "—"}</span>
                        <span>Resource id: {e.resource_id ?? "—"}</span>
                        <span className="truncate font-mono">Checksum: {e.checksum}</span>
                        {e.error_message && <span className="break-words text-danger sm:col-span-2">Reason: {e.error_message}</span>}
                      </div>
                      <pre className="mt-2 max-h-48 overflow-auto rounded bg-card p-2 font-mono text-xs">{JSON.stringify(e.details, null, 2)}</pre>
                    </Td>
                  </tr>
                )}
              </>
            ))}
          </tbody>
        </Table>
      )}
      {logs.hasNextPage && (
        <div className="text-center">
          <Button variant="secondary" loading={logs.isFetchingNextPage} onClick={() => void logs.fetchNextPage()}>
            Load more
          </Button>
        </div>
      )}
    </div>
  );
}
