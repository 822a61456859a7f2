import { useEffect, useMemo, useRef, useState } from "react";
import { Link, useSearchParams } from "react-router";
import { useInfiniteQuery, useQueryClient } from "@tanstack/react-query";
import { useVirtualizer } from "@tanstack/react-virtual";
import { api } from "../../api/instance";
import { PageHeader, Badge } from "../../components/ui/card";
import { Options } from "../../components/ui/dialog-form";
import { Button } from "../../components/ui/button";
import { Input, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { cn } from "../../components/ui/cn";
import { useOrgScope } from "../../lib/scope";
import { useGroups, useSites } from "../../lib/queries";
import { DEVICE_SORTS, OS_FILTERS, STATUS_FILTERS, deviceName, deviceQuery, statusLabel, statusTone } from "../../lib/devices";
import { oneOf, pickSort } from "../../lib/sort";
import { osText, relativeTime } from "../../lib/format";
import { useMediaQuery } from "../../lib/useMediaQuery";
import { usePerms } from "../../auth/session";
import { BulkActions } from "./BulkActions";

const PAGE = 200;
const ROW = 44;
/** A phone's row: a small card of three lines. */
const CARD = 76;
const COLS = "grid-cols-[2.5rem_minmax(9rem,1.4fr)_7rem_minmax(9rem,1.6fr)_minmax(9rem,1.6fr)_minmax(4rem,0.8fr)_7rem] ";
const SORTS: Array<[string, string]> = [
  ["hostname", "Name"],
  ["status", "Status"],
  ["org_name", "Organization"],
  ["os_type", "OS"],
  ["-last_seen_at", "Last seen"],
];

function useDebounced<T>(v: T, ms = 250): T {
  const [d, setD] = useState(v);
  useEffect(() => {
    const t = setTimeout(() => setD(v), ms);
    return () => clearTimeout(t);
  }, [v, ms]);
  return d;
}

function SortHeader({ field, label, sort, setSort }: { field: string; label: string; sort: string; setSort: (s: string) => void }) {
  const active = sort === field || sort === `-${field}`;
  const desc = sort === `-${field}`;
  return (
    <div role="columnheader" aria-sort={active ? (desc ? "descending" : "ascending") : "none"} className="px-2">
      <button type="button" className="inline-flex items-center gap-1 hover:text-fg" onClick={() => setSort(active && !desc ? `-${field}` : field)}>
        {label}
        <span aria-hidden className={active ? "" : "opacity-30"}>
          {desc ? "▼" : "▲"}
        </span>
      </button>
    </div>
  );
}

export default function DevicesList() {
  const scope = useOrgScope();
  const perms = usePerms();
  const qc = useQueryClient();
  const [params, setParams] = useSearchParams();
  const [search, setSearch] = useState(params.get("q") ?? "");
  const q = useDebounced(search);
  const status = oneOf(params.get("status"), STATUS_FILTERS) ?? "";
  const os = oneOf(params.get("os"), OS_FILTERS.map(([v]) => v)) ?? "";
  const tag = params.get("tag") ?? "";
  const groupId = params.get("group") ?? "";
  const sort = pickSort(params.get("sort") ?? "", DEVICE_SORTS, "hostname");
  const sites = useSites(scope.orgId);
  const groups = useGroups(scope.orgId);
  const [selected, setSelected] = useState<Set<string>>(new Set());
  // Below 640 px each device is a card (name, status; OS, last seen; organization, site).
  const narrow = useMediaQuery("(max-width: 639px)");
  const rowHeight = narrow ? CARD : ROW;

  const setParam = (k: string, v: string) => {
    const next = new URLSearchParams(params);
    if (v) next.set(k, v);
    else next.delete(k);
    setParams(next, { replace: true });
  };

  const filters = { org_id: scope.orgId, site_id: scope.siteId, group_id: groupId || null, status: status || null, os: os || null, tag: tag || null, q };
  const query = useInfiniteQuery({
    queryKey: ["devices", "list", filters, sort],
    queryFn: ({ pageParam, signal }) => api.GET("/api/v1/devices", { params: { query: { ...deviceQuery(filters, sort), limit: PAGE, cursor: pageParam } }, signal }),
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last) => last.next_cursor ?? undefined,
  });
  const rows = useMemo(() => query.data?.pages.flatMap((p) => p.data) ?? [], [query.data]);

  // Selection is cleared when the filters change: bulk actions act on what is visible.
  const filterKey = JSON.stringify([filters, sort]);
  useEffect(() => setSelected(new Set()), [filterKey]);

  const parentRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => parentRef.current, estimateSize: () => rowHeight, overscan: 12 });
  useEffect(() => virtualizer.measure(), [rowHeight, virtualizer]);
  const items = virtualizer.getVirtualItems();
  const lastIndex = items.length ? items[items.length - 1].index : 0;
  useEffect(() => {
    if (lastIndex >= rows.length - 40 && query.hasNextPage && !query.isFetchingNextPage) void query.fetchNextPage();
  }, [lastIndex, rows.length, query]);

  const allSelected = rows.length > 0 && rows.every((r) => selected.has(r.id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const canBulk = perms.canAny("devices:write", "scripts:execute", "device_groups:write");

  return (
    <div className="flex h-full flex-col">
      <PageHeader title="Devices" description="Every machine with the Breeze agent in the organizations you can reach." />
      <div className="mb-3 flex flex-wrap items-end gap-2" role="search">
        <div className="w-full sm:w-64">
          <label htmlFor="dev-q" className="sr-only">
            Search devices
          </label>
          <Input id="dev-q" type="search" placeholder="Search hostname, name…" value={search} onChange={(e) => setSearch(e.target.value)} />
        </div>
        <Select aria-label="Status" className="w-auto" value={status} onChange={(e) => setParam("status", e.target.value)}>
          <option value="">Any status</option>
          {STATUS_FILTERS.map((s) => (
            <option key={s} value={s}>
              {statusLabel(s)}
            </option>
          ))}
        </Select>
        <Select aria-label="Operating system" className="w-auto" value={os} onChange={(e) => setParam("os", e.target.value)}>
          <option value="">Any OS</option>
          {OS_FILTERS.map(([v, label]) => (
            <option key={v} value={v}>
              {label}
            </option>
          ))}
        </Select>
        {(groups.data?.length ?? 0) > 0 && (
          <Select aria-label="Device group" className="w-auto max-w-48" value={groupId} onChange={(e) => setParam("group", e.target.value)}>
            <Options items={groups.data} placeholder="Any group" />
          </Select>
        )}
        <Input aria-label="Tag" placeholder="Tag" className="w-32" value={tag} onChange={(e) => setParam("tag", e.target.value.trim())} />
        <span className="ml-auto text-sm text-muted-fg" aria-live="polite">
          {query.isSuccess && `${rows.length}${query.hasNextPage ? "+" : ""} ${rows.length === 1 && !query.hasNextPage ? "device" : "devices"}`}
        </span>
      </div>

      {canBulk && selected.size > 0 && (
        <BulkActions
          devices={rows.filter((r) => selected.has(r.id))}
          orgId={scope.orgId ?? rows.find((r) => selected.has(r.id))?.org_id ?? null}
          sites={sites.data ?? []}
          groups={groups.data ?? []}
          onDone={() => {
            setSelected(new Set());
            void qc.invalidateQueries({ queryKey: ["devices"] });
          }}
        />
      )}

      {query.isPending ? (
        <Loading label="Loading devices…" />
      ) : query.isError ? (
        <ErrorState error={query.error} retry={() => query.refetch()} title="Could not load devices" />
      ) : rows.length === 0 ? (
        <EmptyState title={q || status || os || tag || groupId ? "No device matches these filters" : "No devices yet"}>
          {q || status || os || tag || groupId ? "Clear a filter to see more." : "Create an enrollment key and install the agent to add a device."}
        </EmptyState>
      ) : (
        <div role="table" aria-label="Devices" aria-rowcount={rows.length} className="flex min-h-80 flex-1 flex-col overflow-hidden rounded-lg border border-border bg-card text-sm">
          <div className={narrow ? "" : "overflow-x-auto"}>
            <div className={narrow ? "" : "min-w-[52rem]"}>
              {narrow ? (
                <div role="row" className="flex h-10 items-center gap-3 border-b border-border bg-muted/60 px-3 text-xs font-semibold text-muted-fg">
                  <div role="columnheader" className="w-4">
                    {canBulk && <input type="checkbox" aria-label="Select all loaded devices" checked={allSelected} onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))} className="size-4" />}
                  </div>
                  <div role="columnheader" className="ml-auto flex items-center gap-2">
                    <label htmlFor="dev-sort">Sort by</label>
                    <Select id="dev-sort" className="h-8 w-auto text-xs" value={sort} onChange={(e) => setParam("sort", e.target.value)}>
                      {SORTS.some(([v]) => v === sort) ? null : <option value={sort}>{sort}</option>}
                      {SORTS.map(([v, label]) => (
                        <option key={v} value={v}>
                          {label}
                        </option>
                      ))}
                    </Select>
                  </div>
                </div>
              ) : (
                <div role="row" className={cn("grid h-10 items-center border-b border-border bg-muted/60 text-xs font-semibold text-muted-fg", COLS)}>
                  <div role="columnheader" className="px-3">
                    {canBulk && <input type="checkbox" aria-label="Select all loaded devices" checked={allSelected} onChange={() => setSelected(allSelected ? new Set() : new Set(rows.map((r) => r.id)))} className="size-4" />}
                  </div>
                  <SortHeader field="hostname" label="Name" sort={sort} setSort={(s) => setParam("sort", s)} />
                  <SortHeader field="status" label="Status" sort={sort} setSort={(s) => setParam("sort", s)} />
                  <SortHeader field="org_name" label="Organization / site" sort={sort} setSort={(s) => setParam("sort", s)} />
                  <SortHeader field="os_type" label="OS" sort={sort} setSort={(s) => setParam("sort", s)} />
                  <div role="columnheader" className="px-2">
                    Tags
                  </div>
                  <SortHeader field="last_seen_at" label="Last seen" sort={sort} setSort={(s) => setParam("sort", s)} />
                </div>
              )}
              <div ref={parentRef} className="h-[calc(100vh-19rem)] min-h-72 overflow-y-auto">
                <div className="relative" style={{ height: virtualizer.getTotalSize() }}>
                  {items.map((vi) => {
                    const d = rows[vi.index];
                    const check = canBulk && <input type="checkbox" className="size-4" aria-label={`Select ${deviceName(d)}`} checked={selected.has(d.id)} onChange={() => toggle(d.id)} />;
                    const name = (
                      <Link to={`/devices/${d.id}`} className="font-medium text-primary hover:underline">
                        {deviceName(d)}
                      </Link>
                    );
                    const os = osText(d);
                    const place = `${d.org_name} / ${d.site_name}`;
                    return narrow ? (
                      <div
                        key={d.id}
                        role="row"
                        aria-rowindex={vi.index + 2}
                        aria-selected={selected.has(d.id)}
                        className={cn("absolute inset-x-0 flex gap-3 border-b border-border px-3 py-2", selected.has(d.id) && "bg-primary/5")}
                        style={{ height: CARD, transform: `translateY(${vi.start}px)` }}
                      >
                        <div role="cell" className="w-4 pt-0.5">
                          {check}
                        </div>
                        <div className="min-w-0 flex-1 space-y-0.5">
                          <div className="flex items-center justify-between gap-2">
                            <div role="cell" className="min-w-0 truncate">
                              {name}
                            </div>
                            <div role="cell" className="shrink-0">
                              <Badge tone={statusTone(d.status)}>{statusLabel(d.status)}</Badge>
                            </div>
                          </div>
                          <div className="flex items-center justify-between gap-2 text-xs text-muted-fg">
                            <div role="cell" className="min-w-0 truncate" title={os}>
                              {os}
                            </div>
                            <div role="cell" className="shrink-0">
                              {relativeTime(d.last_seen_at)}
                            </div>
                          </div>
                          <div role="cell" className="truncate text-xs text-muted-fg" title={place}>
                            {place}
                          </div>
                        </div>
                      </div>
                    ) : (
                      <div
                        key={d.id}
                        role="row"
                        aria-rowindex={vi.index + 2}
                        aria-selected={selected.has(d.id)}
                        className={cn("absolute inset-x-0 grid items-center border-b border-border hover:bg-muted/50", COLS, selected.has(d.id) && "bg-primary/5")}
                        style={{ height: ROW, transform: `translateY(${vi.start}px)` }}
                      >
                        <div role="cell" className="px-3">
                          {check}
                        </div>
                        <div role="cell" className="min-w-0 truncate px-2">
                          {name}
                          {d.display_name && d.display_name !== d.hostname && <span className="ml-2 text-xs text-muted-fg">{d.hostname}</span>}
                        </div>
                        <div role="cell" className="px-2">
                          <Badge tone={statusTone(d.status)}>{statusLabel(d.status)}</Badge>
                        </div>
                        <div role="cell" className="min-w-0 truncate px-2" title={place}>
                          {d.org_name} <span className="text-xs text-muted-fg">/ {d.site_name}</span>
                        </div>
                        <div role="cell" className="min-w-0 truncate px-2" title={os}>
                          {os}
                        </div>
                        <div role="cell" className="flex min-w-0 gap-1 overflow-hidden px-2">
                          {d.tags?.slice(0, 3).map((t) => (
                            <Badge key={t}>{t}</Badge>
                          ))}
                        </div>
                        <div role="cell" className="px-2 text-muted-fg">
                          {relativeTime(d.last_seen_at)}
                        </div>
                      </div>
                    );
                  })}
                </div>
                {query.isFetchingNextPage && <Loading label="Loading more…" />}
              </div>
            </div>
          </div>
        </div>
      )}
      {query.hasNextPage && !query.isFetchingNextPage && rows.length > 0 && (
        <div className="mt-2 text-center">
          <Button variant="ghost" size="sm" onClick={() => void query.fetchNextPage()}>
            Load more
          </Button>
        </div>
      )}
    </div>
  );
}
