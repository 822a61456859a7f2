import { useState } from "react";
import { Link } from "react-router";
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { Script, ScriptSort } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { buttonClass, Button } from "../../components/ui/button";
import { Input } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { ActionsTh, SortTh, Table, Td, Th } from "../../components/ui/table";
import { usePerms } from "../../auth/session";
import { osLabel } from "../../lib/format";
import { pickSort, sortsOf } from "../../lib/sort";
import { RunScriptDialog } from "./RunScriptDialog";
import { ScriptTargetPicker, type Target } from "./ScriptTargetPicker";

const SCRIPT_SORTS = sortsOf(["name", "category", "language", "created_at", "updated_at"] as const) satisfies ScriptSort[];

export default function ScriptsList() {
  const perms = usePerms();
  const [q, setQ] = useState("");
  const [sort, setSort] = useState<string>("name");
  const [running, setRunning] = useState<Script | null>(null);
  const [target, setTarget] = useState<Target | null>(null);
  const list = useQuery({
    queryKey: ["scripts", "list", q, sort],
    queryFn: ({ signal }) => api.GET("/api/v1/scripts", { params: { query: { q: q.trim() || undefined, sort: pickSort(sort, SCRIPT_SORTS, "name"), limit: 200 } }, signal }),
    placeholderData: (p) => p,
  });
  return (
    <div>
      <PageHeader
        title="Scripts"
        description="Your library of PowerShell, Bash, Python and CMD scripts."
        actions={
          perms.can("scripts:write") && (
            <Link to="/scripts/new" className={buttonClass()}>
              New script
            </Link>
          )
        }
      />
      <Input type="search" aria-label="Search scripts" placeholder="Search scripts…" value={q} onChange={(e) => setQ(e.target.value)} className="mb-3 max-w-sm" />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} />
      ) : list.data.data.length === 0 ? (
        <EmptyState title={q ? "No script matches" : "No scripts yet"}>{!q && "Write a script once, then run it on any device, group or site."}</EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <SortTh field="name" sort={sort} onSort={setSort}>
                Name
              </SortTh>
              <Th>Language</Th>
              <Th className="hidden md:table-cell">OS</Th>
              <SortTh field="category" sort={sort} onSort={setSort} className="hidden md:table-cell">
                Category
              </SortTh>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((s) => (
              <tr key={s.id}>
                <Td>
                  <Link to={`/scripts/${s.id}`} className="font-medium text-primary hover:underline">
                    {s.name}
                  </Link>
                  {s.description && <p className="truncate text-xs text-muted-fg">{s.description}</p>}
                </Td>
                <Td>
                  <Badge tone="primary">{s.language}</Badge>
                </Td>
                <Td className="hidden md:table-cell">{s.os_types?.map(osLabel).join(", ") || "any"}</Td>
                <Td className="hidden md:table-cell">{s.category ?? "—"}</Td>
                <Td className="text-right">
                  {perms.can("scripts:execute") && (
                    <Button size="sm" variant="secondary" onClick={() => setRunning(s)}>
                      Run
                    </Button>
                  )}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {running && !target && <ScriptTargetPicker script={running} onCancel={() => setRunning(null)} onPick={setTarget} />}
      {running && target && (
        <RunScriptDialog
          open
          script={running}
          target={target.target}
          targetLabel={target.label}
          onClose={() => {
            setRunning(null);
            setTarget(null);
          }}
        />
      )}
    </div>
  );
}
