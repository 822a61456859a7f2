import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { Input } from "../../components/ui/form";
import { SortTh, Table, Td, Th } from "../../components/ui/table";
import { formatBytes, formatDateTime } from "../../lib/format";
import { pickSort, sortsOf } from "../../lib/sort";
import type { ProcessSort } from "../../api/types";

const PROCESS_SORTS = sortsOf(["name", "pid", "user", "cpu", "memory"] as const) satisfies ProcessSort[];

/** Running processes from the agent's latest snapshot, busiest first, sortable by CPU and memory. */
export function ProcessesTab({ id }: { id: string }) {
  const [search, setSearch] = useState("");
  const [sort, setSort] = useState<string>("-cpu");
  const q = useQuery({
    queryKey: ["device", id, "processes", search, sort],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}/processes", { params: { path: { id }, query: { q: search.trim() || undefined, sort: pickSort(sort, PROCESS_SORTS, "-cpu"), limit: 500 } }, signal }),
    placeholderData: (prev) => prev,
  });
  return (
    <div className="space-y-3">
      <Input type="search" aria-label="Search processes" placeholder="Search by name or user…" value={search} onChange={(e) => setSearch(e.target.value)} className="max-w-sm" />
      {q.isPending ? (
        <Loading />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} />
      ) : q.data.data.length === 0 ? (
        <EmptyState title={search ? "No process matches" : "No processes reported yet"} />
      ) : (
        <Table>
          <thead>
            <tr>
              <SortTh field="name" sort={sort} onSort={setSort}>
                Name
              </SortTh>
              <SortTh field="pid" sort={sort} onSort={setSort} className="hidden md:table-cell">
                PID
              </SortTh>
              <SortTh field="user" sort={sort} onSort={setSort} className="hidden md:table-cell">
                User
              </SortTh>
              <SortTh field="cpu" sort={sort} onSort={setSort}>
                CPU %
              </SortTh>
              <SortTh field="memory" sort={sort} onSort={setSort}>
                Memory
              </SortTh>
            </tr>
          </thead>
          <tbody>
            {q.data.data.map((p) => (
              <tr key={p.pid}>
                <Td className="font-medium">{p.name}</Td>
                <Td className="hidden font-mono text-xs md:table-cell">{p.pid}</Td>
                <Td className="hidden md:table-cell">{p.user ?? "—"}</Td>
                <Td>{p.cpu_percent.toFixed(1)}</Td>
                <Td>{formatBytes(p.memory_bytes)}</Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {q.data?.next_cursor && <p className="text-xs text-muted-fg">Showing the first 500; search to narrow down.</p>}
    </div>
  );
}

/** Users logged in on the device (the agent's latest snapshot): who, on which terminal, since when. */
export function UsersTab({ id }: { id: string }) {
  const q = useQuery({
    queryKey: ["device", id, "users"],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}/users", { params: { path: { id }, query: { limit: 500 } }, signal }),
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  if (!q.data.data.length) return <EmptyState title="No one is logged in" />;
  return (
    <Table>
      <thead>
        <tr>
          <Th>User</Th>
          <Th>Session</Th>
          <Th className="hidden md:table-cell">From</Th>
          <Th>Since</Th>
        </tr>
      </thead>
      <tbody>
        {q.data.data.map((u, i) => (
          <tr key={`${u.username}-${u.terminal}-${i}`}>
            <Td className="font-medium">{u.username}</Td>
            <Td className="font-mono text-xs">{u.terminal}</Td>
            <Td className="hidden md:table-cell">{u.host ?? "—"}</Td>
            <Td>{u.login_time ? formatDateTime(u.login_time) : "—"}</Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
