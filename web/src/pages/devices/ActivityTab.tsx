import { useMemo } from "react";
import { useInfiniteQuery, useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { Badge, Card } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { describeEvent } from "../../lib/deviceEvents";
import { formatDateTime, relativeTime } from "../../lib/format";

const PAGE = 50;

/**
 * The device's history from `GET /devices/{id}/events`, newest first, a page at a time:
 * enrollment, status changes (online, offline, maintenance and quarantine with their
 * reasons), command and script results, token and address changes.
 */
export function ActivityTab({ id }: { id: string }) {
  const q = useInfiniteQuery({
    queryKey: ["device-events", id],
    queryFn: ({ pageParam, signal }) => api.GET("/api/v1/devices/{id}/events", { params: { path: { id }, query: { limit: PAGE, cursor: pageParam } }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  // Script runs are named from the device's recent executions (their command ids).
  const execs = useQuery({
    queryKey: ["executions", "device", id, "names"],
    queryFn: ({ signal }) => api.GET("/api/v1/script-executions", { params: { query: { device_id: id, limit: 200 } }, signal }),
  });
  const scripts = useMemo(() => new Map((execs.data?.data ?? []).map((x) => [x.command_id ?? "", x.script_name])), [execs.data]);
  if (q.isPending) return <Loading label="Loading activity…" />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  const rows = q.data.pages.flatMap((p) => p.data);
  if (!rows.length) return <EmptyState title="No activity yet" />;
  return (
    <Card>
      <ol aria-label="Device activity" className="divide-y divide-border">
        {rows.map((e) => {
          const cmd = typeof e.details?.command_id === "string" ? e.details.command_id : null;
          const d = describeEvent(e, cmd ? scripts.get(cmd) : null);
          return (
            <li key={e.id} className="flex flex-wrap items-start justify-between gap-x-4 gap-y-1 py-2 text-sm">
              <div className="min-w-0">
                <p className="flex items-center gap-2 font-medium">
                  <span aria-hidden className={`inline-block size-2 shrink-0 rounded-full ${DOT[d.tone]}`} />
                  {d.title}
                </p>
                {d.detail && <p className="ml-4 break-words text-muted-fg">{d.detail}</p>}
              </div>
              <time dateTime={e.created_at} title={formatDateTime(e.created_at)} className="ml-4 shrink-0 text-xs text-muted-fg">
                {formatDateTime(e.created_at)} · {relativeTime(e.created_at)}
              </time>
            </li>
          );
        })}
      </ol>
      <div className="mt-3 flex items-center justify-between text-xs text-muted-fg">
        <span>
          {rows.length} {rows.length === 1 ? "event" : "events"}
          {q.hasNextPage ? " so far" : ""}
        </span>
        {q.hasNextPage ? (
          <Button variant="secondary" size="sm" loading={q.isFetchingNextPage} onClick={() => void q.fetchNextPage()}>
            Load older
          </Button>
        ) : (
          rows.length > PAGE && <Badge>Start of history</Badge>
        )}
      </div>
    </Card>
  );
}

const DOT = { ok: "bg-ok", danger: "bg-danger", warn: "bg-warn", muted: "bg-muted-fg", primary: "bg-primary" } as const;
