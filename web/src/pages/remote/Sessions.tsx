// Remote sessions (terminal, files, desktop): who opened what on which device, when, for how
// long, how many bytes; the recording of a terminal session when one was kept.
import { useState } from "react";
import { Link } from "react-router";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { Table, Td, Th } from "../../components/ui/table";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { ALL, fetchAll } from "../../lib/queries";
import { formatDateTime } from "../../lib/format";
import { formatSize } from "../../lib/remoteFiles";
import { listSessions } from "../../lib/remoteApi";
import { formatDuration, NO_FILTERS, recordingPage, SESSION_STATUSES, SESSION_TYPES, sessionDuration, sessionQuery, sessionTone, typeLabel, type SessionFilters } from "../../lib/remoteSessions";

export default function SessionsPage() {
  const scope = useOrgScope();
  const perms = usePerms();
  const [f, setF] = useState<SessionFilters>(NO_FILTERS);
  const query = sessionQuery(f, scope.orgId);
  const list = useInfiniteQuery({
    queryKey: ["remote-sessions", query],
    queryFn: ({ pageParam, signal }) => listSessions(query, pageParam, signal),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (p) => p.next_cursor ?? undefined,
    // Live sessions' status and duration move.
    refetchInterval: 10_000,
  });
  const devices = useQuery({
    queryKey: ["devices", "remote-session-filter", scope.orgId],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/devices", { params: { query: { org_id: scope.orgId ?? undefined, limit: ALL, cursor, sort: "hostname" } }, signal }), 5000),
    enabled: perms.can("devices:read"),
    staleTime: 60_000,
  });
  const users = useQuery({
    queryKey: ["users", "remote-session-filter"],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/users", { params: { query: { limit: ALL, cursor } }, signal }), 5000),
    enabled: perms.can("users:read"),
    staleTime: 60_000,
  });
  const rows = list.data?.pages.flatMap((p) => p.data) ?? [];
  // Without users:read, the people who appear in the list so far.
  const people = users.data?.map((u) => ({ id: u.id, email: u.email })) ?? [...new Map(rows.map((r) => [r.user_id, { id: r.user_id, email: r.user_email }])).values()];
  const set = <K extends keyof SessionFilters>(k: K, v: SessionFilters[K]) => setF((x) => ({ ...x, [k]: v }));

  return (
    <div className="space-y-4">
      <PageHeader title="Remote sessions" description="Every terminal, file manager and desktop session: who opened it, on which device, how long it lasted. Terminal sessions are recorded." />
      <div className="flex flex-wrap items-end gap-2" role="search" aria-label="Filter sessions">
        <Select aria-label="Device" className="w-52" value={f.device_id} onChange={(e) => set("device_id", e.target.value)}>
          <option value="">Any device</option>
          {devices.data?.map((d) => (
            <option key={d.id} value={d.id}>
              {d.display_name || d.hostname}
            </option>
          ))}
        </Select>
        <Select aria-label="User" className="w-52" value={f.user_id} onChange={(e) => set("user_id", e.target.value)}>
          <option value="">Anyone</option>
          {people.map((u) => (
            <option key={u.id} value={u.id}>
              {u.email}
            </option>
          ))}
        </Select>
        <Select aria-label="Type" className="w-auto" value={f.type} onChange={(e) => set("type", e.target.value as SessionFilters["type"])}>
          <option value="">Any type</option>
          {SESSION_TYPES.map((t) => (
            <option key={t.value} value={t.value}>
              {t.label}
            </option>
          ))}
        </Select>
        <Select aria-label="Status" className="w-auto" value={f.status} onChange={(e) => set("status", e.target.value as SessionFilters["status"])}>
          <option value="">Any status</option>
          {SESSION_STATUSES.map((s) => (
            <option key={s} value={s}>
              {s}
            </option>
          ))}
        </Select>
        <Button variant="ghost" onClick={() => setF(NO_FILTERS)}>
          Reset
        </Button>
      </div>
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} title="Could not load the sessions" />
      ) : rows.length === 0 ? (
        <EmptyState title="No sessions match">Open a terminal or the file manager from a device's page.</EmptyState>
      ) : (
        <Table>
          <caption className="sr-only">Remote sessions</caption>
          <thead>
            <tr>
              <Th>Device</Th>
              <Th>User</Th>
              <Th>Type</Th>
              <Th>Status</Th>
              <Th>Started</Th>
              <Th>Duration</Th>
              <Th className="text-right">Bytes</Th>
              <Th>Recording</Th>
            </tr>
          </thead>
          <tbody>
            {rows.map((s) => {
              // The recording page (and the recording) need remote:execute, as the server says.
              const rec = perms.can("remote:execute") ? recordingPage(s) : null;
              return (
                <tr key={s.id} data-session-id={s.id}>
                  <Td>
                    <Link to={`/devices/${s.device_id}`} className="hover:underline">
                      {s.hostname}
                    </Link>
                  </Td>
                  <Td className="max-w-48 truncate">{s.user_email}</Td>
                  <Td>{typeLabel(s.type)}</Td>
                  <Td>
                    <Badge tone={sessionTone(s.status)}>{s.status}</Badge>
                    {s.end_reason && (
                      <span className="block max-w-56 truncate text-xs text-muted-fg" title={s.end_reason}>
                        {s.end_reason}
                      </span>
                    )}
                  </Td>
                  <Td className="whitespace-nowrap text-xs">{formatDateTime(s.started_at ?? s.created_at)}</Td>
                  <Td className="whitespace-nowrap">{formatDuration(sessionDuration(s))}</Td>
                  <Td className="whitespace-nowrap text-right" title={`${s.bytes_transferred} bytes`}>
                    {formatSize(s.bytes_transferred)}
                  </Td>
                  <Td>
                    {rec ? (
                      <Link to={rec} className="text-primary hover:underline">
                        Replay
                      </Link>
                    ) : (
                      <span className="text-muted-fg">—</span>
                    )}
                  </Td>
                </tr>
              );
            })}
          </tbody>
        </Table>
      )}
      {list.hasNextPage && (
        <div className="text-center">
          <Button variant="secondary" loading={list.isFetchingNextPage} onClick={() => void list.fetchNextPage()}>
            Load more
          </Button>
        </div>
      )}
    </div>
  );
}
