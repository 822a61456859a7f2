// The device page's Alerts tab: this device's alerts (open first by default), acted on in place.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { useInfiniteQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { Button } from "../../components/ui/button";
import { Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { AlertActionDialog, AlertDetailDialog, AlertsTable, type AlertAction } from "../alerts/AlertParts";

export function AlertsTab({ id }: { id: string }) {
  const [status, setStatus] = useState<"open" | "">("open");
  const [openId, setOpenId] = useState<string | null>(null);
  const [action, setAction] = useState<AlertAction | null>(null);
  const q = useInfiniteQuery({
    queryKey: ["device-alerts", id, status],
    queryFn: ({ pageParam, signal }) => api.GET("/api/v1/devices/{id}/alerts", { params: { path: { id }, query: { status: status || undefined, limit: 50, cursor: pageParam } }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = useMemo(() => q.data?.pages.flatMap((p) => p.data) ?? [], [q.data]);
  return (
    <div className="space-y-3">
      <div className="flex flex-wrap items-center gap-2">
        <Select aria-label="Alert status" className="w-auto" value={status} onChange={(e) => setStatus(e.target.value as "open" | "")}>
          <option value="open">Open alerts</option>
          <option value="">All alerts</option>
        </Select>
        <Link to={`/alerts?device=${id}${status ? "" : "&status=any"}`} className="ml-auto text-sm text-primary hover:underline">
          Open in the alerts inbox
        </Link>
      </div>
      {q.isPending ? (
        <Loading label="Loading alerts…" />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load this device's alerts" />
      ) : rows.length === 0 ? (
        <EmptyState title={status === "open" ? "No open alerts on this device" : "No alerts on this device yet"} />
      ) : (
        <AlertsTable alerts={rows} showDevice={false} onOpen={(a) => setOpenId(a.id)} onAction={setAction} />
      )}
      {q.hasNextPage && (
        <div className="text-center">
          <Button variant="ghost" size="sm" loading={q.isFetchingNextPage} onClick={() => void q.fetchNextPage()}>
            Load more
          </Button>
        </div>
      )}
      {openId && <AlertDetailDialog id={openId} onClose={() => setOpenId(null)} />}
      {action && <AlertActionDialog action={action} onClose={() => setAction(null)} />}
    </div>
  );
}
