import { useState } from "react";
import { Link, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { Device } from "../../api/types";
import { Badge, Card, CardTitle, DefinitionList, PageHeader } from "../../components/ui/card";
import { Button, buttonClass } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { Field, Input } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Table, Td, Th } from "../../components/ui/table";
import { Tabs } from "../../components/ui/tabs";
import { useToast } from "../../components/ui/toast";
import { deviceName, patchDevice, statusLabel, statusTone } from "../../lib/devices";
import { formatBytes, formatDateTime, osText, relativeTime } from "../../lib/format";
import { errorMessage } from "../../api/client";
import { RunScriptDialog } from "../scripts/RunScriptDialog";
import { ExecutionOutput, executionTone } from "../scripts/ExecutionOutput";
import { MetricsTab } from "./MetricsTab";
import { ProcessesTab, UsersTab } from "./SnapshotTabs";
import { ActivityTab } from "./ActivityTab";
import { DeviceActions } from "./DeviceActions";
import { AlertsTab } from "./AlertsTab";
import { usePerms } from "../../auth/session";
import { remoteLinks } from "../../lib/remoteSessions";

type Tab = "overview" | "alerts" | "hardware" | "software" | "processes" | "users" | "network" | "disks" | "metrics" | "commands" | "activity";
const TABS: Array<{ id: Tab; label: string }> = [
  { id: "overview", label: "Overview" },
  { id: "alerts", label: "Alerts" },
  { id: "hardware", label: "Hardware" },
  { id: "software", label: "Software" },
  { id: "processes", label: "Processes" },
  { id: "users", label: "Users" },
  { id: "network", label: "Network" },
  { id: "disks", label: "Disks" },
  { id: "metrics", label: "Metrics" },
  { id: "commands", label: "Commands & scripts" },
  { id: "activity", label: "Activity" },
];


export default function DeviceDetail() {
  const { id = "" } = useParams();
  const perms = usePerms();
  const [tab, setTab] = useState<Tab>("overview");
  const [dialog, setDialog] = useState<"run" | "edit" | null>(null);
  const q = useQuery({
    queryKey: ["device", id],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}", { params: { path: { id } }, signal }),
  });

  if (q.isPending) return <Loading label="Loading device…" />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load this device" />;
  const d = q.data;

  return (
    <div>
      <nav aria-label="Breadcrumb" className="mb-2 text-sm text-muted-fg">
        <Link to="/devices" className="hover:underline">
          Devices
        </Link>{" "}
        / {deviceName(d)}
      </nav>
      <PageHeader
        title={deviceName(d)}
        description={
          <span className="inline-flex flex-wrap items-center gap-x-2 gap-y-1">
            <Badge tone={statusTone(d.status)}>{statusLabel(d.status)}</Badge>
            <span>{osText(d)}</span>
            <span aria-hidden>·</span>
            <span>
              {d.org_name} / {d.site_name}
            </span>
            <span aria-hidden>·</span>
            <span>last seen {relativeTime(d.last_seen_at)}</span>
          </span>
        }
        actions={
          <>
            {remoteLinks(d.id, d.status, (p) => perms.can(p)).map((l) => (
              <Link key={l.label} to={l.to} className={buttonClass("secondary")}>
                {l.label}
              </Link>
            ))}
            <DeviceActions d={d} onRun={() => setDialog("run")} onEdit={() => setDialog("edit")} />
          </>
        }
      />
      {d.status === "quarantined" && (
        <div className="mb-4">
          <Notice tone="danger">
            Quarantined {d.quarantined_at ? relativeTime(d.quarantined_at) : ""}
            {d.quarantined_reason ? `: ${d.quarantined_reason}` : ""}. No script or command runs on it until it is released.
          </Notice>
        </div>
      )}
      {d.status === "awaiting_checkin" && (
        <div className="mb-4">
          <Notice>The agent enrolled this machine but has not checked in yet: it shows online once the agent runs (the install script starts it; else run <code>breeze-agent run</code> or <code>sudo breeze-agent install</code> on the machine).</Notice>
        </div>
      )}
      <Tabs label="Device details" tabs={perms.can("alerts:read") ? TABS : TABS.filter((t) => t.id !== "alerts")} value={tab} onChange={setTab} />
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "overview" && <Overview d={d} />}
        {tab === "alerts" && <AlertsTab id={id} />}
        {tab === "hardware" && <HardwareTab id={id} />}
        {tab === "software" && <SoftwareTab id={id} />}
        {tab === "processes" && <ProcessesTab id={id} />}
        {tab === "users" && <UsersTab id={id} />}
        {tab === "network" && <NetworkTab id={id} />}
        {tab === "disks" && <DisksTab id={id} />}
        {tab === "metrics" && <MetricsTab id={id} />}
        {tab === "commands" && <CommandsTab id={id} />}
        {tab === "activity" && <ActivityTab id={id} />}
      </div>
      {dialog === "run" && <RunScriptDialog open onClose={() => setDialog(null)} target={{ device_ids: [id] }} targetLabel={deviceName(d)} />}
      {dialog === "edit" && <EditDialog d={d} onClose={() => setDialog(null)} />}
    </div>
  );
}

function Overview({ d }: { d: Device }) {
  return (
    <div className="grid gap-3 lg:grid-cols-2">
      <Card>
        <CardTitle>Device</CardTitle>
        <DefinitionList
          items={[
            ["Hostname", d.hostname],
            ["Display name", d.display_name || "—"],
            ["Organization", d.org_name],
            ["Site", d.site_name],
            ["Operating system", osText(d)],
            ["Kernel", d.os_kernel || "—"],
            ["Architecture", d.architecture],
            ["Agent version", d.agent_version],
            ["Tags", d.tags?.length ? <span className="flex flex-wrap gap-1">{d.tags.map((t) => <Badge key={t}>{t}</Badge>)}</span> : "—"],
          ]}
        />
      </Card>
      <Card>
        <CardTitle>Status</CardTitle>
        <DefinitionList
          items={[
            ["Status", <Badge tone={statusTone(d.status)}>{statusLabel(d.status)}</Badge>],
            ["Last seen", `${formatDateTime(d.last_seen_at)} (${relativeTime(d.last_seen_at)})`],
            ["Enrolled", formatDateTime(d.enrolled_at)],
            ["Device id", <code className="font-mono text-xs">{d.id}</code>],
          ]}
        />
      </Card>
    </div>
  );
}

function HardwareTab({ id }: { id: string }) {
  const q = useQuery({
    queryKey: ["device", id, "hardware"],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}/hardware", { params: { path: { id } }, signal }),
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  const h = q.data.hardware;
  if (!h) return <EmptyState title="No hardware reported yet" />;
  return (
    <Card>
      <DefinitionList
        items={[
          ["Manufacturer", h.manufacturer],
          ["Model", h.model],
          ["Serial number", h.serial_number],
          ["CPU", h.cpu_model],
          ["Cores / threads", h.cpu_cores ? `${h.cpu_cores} / ${h.cpu_threads ?? "?"}` : null],
          ["Memory", h.ram_total_mb ? `${(h.ram_total_mb / 1024).toFixed(1)} GB` : null],
          ["Disk", h.disk_total_gb ? `${h.disk_total_gb} GB` : null],
          ["GPU", h.gpu_model],
          ["BIOS", h.bios_version],
          ["Updated", formatDateTime(q.data.updated_at)],
        ]}
      />
    </Card>
  );
}

const SOFTWARE_PAGE = 100;

function SoftwareTab({ id }: { id: string }) {
  const [search, setSearch] = useState("");
  // The cursors of the pages before this one (the first page has none).
  const [cursors, setCursors] = useState<string[]>([]);
  const cursor = cursors[cursors.length - 1];
  const q = useQuery({
    queryKey: ["device", id, "software", search, cursor],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}/software", { params: { path: { id }, query: { q: search.trim() || undefined, limit: SOFTWARE_PAGE, cursor } }, signal }),
    placeholderData: (prev) => prev,
  });
  const page = q.data;
  return (
    <div className="space-y-3">
      <Input
        type="search"
        aria-label="Search software"
        placeholder="Search software…"
        value={search}
        onChange={(e) => {
          setSearch(e.target.value);
          setCursors([]);
        }}
        className="max-w-sm"
      />
      {q.isPending ? (
        <Loading />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} />
      ) : !page || page.data.length === 0 ? (
        <EmptyState title={search ? "No software matches" : "No software reported yet"} />
      ) : (
        <>
          <Table>
            <thead>
              <tr>
                <Th>Name</Th>
                <Th>Version</Th>
                <Th className="hidden md:table-cell">Publisher</Th>
                <Th className="hidden md:table-cell">Installed</Th>
              </tr>
            </thead>
            <tbody>
              {page.data.map((s, i) => (
                <tr key={`${s.name}-${s.version}-${i}`}>
                  <Td className="font-medium">{s.name}</Td>
                  <Td>{s.version ?? "—"}</Td>
                  <Td className="hidden md:table-cell">{s.publisher ?? "—"}</Td>
                  <Td className="hidden md:table-cell">{s.install_date ?? "—"}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
          <nav aria-label="Software pages" className="flex flex-wrap items-center justify-between gap-2 text-sm">
            <span className="text-muted-fg" aria-live="polite">
              {`${page.offset + 1}–${page.offset + page.data.length} of ${page.total} ${search ? "matching " : ""}${page.total === 1 ? "package" : "packages"}`}
            </span>
            <span className="flex gap-2">
              <Button variant="secondary" size="sm" disabled={cursors.length === 0} onClick={() => setCursors((c) => c.slice(0, -1))}>
                Previous
              </Button>
              <Button variant="secondary" size="sm" disabled={!page.next_cursor} onClick={() => page.next_cursor && setCursors((c) => [...c, page.next_cursor as string])}>
                Next
              </Button>
            </span>
          </nav>
        </>
      )}
    </div>
  );
}

function NetworkTab({ id }: { id: string }) {
  const q = useQuery({
    queryKey: ["device", id, "network"],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}/network", { params: { path: { id } }, signal }),
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  const nets = q.data.data;
  if (!nets.length) return <EmptyState title="No network interfaces reported yet" />;
  return (
    <Table>
      <thead>
        <tr>
          <Th>Interface</Th>
          <Th>IP addresses</Th>
          <Th>MAC</Th>
          <Th className="hidden md:table-cell">Type</Th>
        </tr>
      </thead>
      <tbody>
        {nets.map((n) => (
          <tr key={n.name}>
            <Td className="font-medium">
              {n.name} {n.is_primary && <Badge tone="primary">primary</Badge>}
            </Td>
            <Td className="font-mono text-xs">{n.addresses.length ? n.addresses.map((a) => `${a.address}/${a.prefix_len}`).join(", ") : "—"}</Td>
            <Td className="font-mono text-xs">{n.mac_address || "—"}</Td>
            <Td className="hidden md:table-cell">{n.interface_type}</Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

function DisksTab({ id }: { id: string }) {
  const q = useQuery({
    queryKey: ["device", id, "disks"],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}/disks", { params: { path: { id } }, signal }),
  });
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  const disks = q.data.data;
  if (!disks.length) return <EmptyState title="No disks reported yet" />;
  return (
    <div className="grid gap-3 md:grid-cols-2">
      {disks.map((k) => {
        const pct = k.total_bytes ? Math.round((k.used_bytes / k.total_bytes) * 100) : 0;
        return (
          <Card key={k.mount_point}>
            <CardTitle>
              <span className="font-mono">{k.mount_point}</span>
            </CardTitle>
            <div className="h-2 overflow-hidden rounded bg-muted" role="meter" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} aria-label={`${k.mount_point} used`}>
              <div className={pct > 90 ? "h-full bg-danger" : pct > 75 ? "h-full bg-warn" : "h-full bg-primary"} style={{ width: `${pct}%` }} />
            </div>
            <p className="mt-2 text-sm text-muted-fg">
              {formatBytes(k.used_bytes)} of {formatBytes(k.total_bytes)} used ({pct}%) {k.filesystem && `· ${k.filesystem}`}
            </p>
          </Card>
        );
      })}
    </div>
  );
}

function CommandsTab({ id }: { id: string }) {
  const execs = useQuery({
    queryKey: ["executions", "device", id],
    queryFn: ({ signal }) => api.GET("/api/v1/script-executions", { params: { query: { device_id: id, limit: 50 } }, signal }),
  });
  const cmds = useQuery({
    queryKey: ["device-commands", id],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}/commands", { params: { path: { id }, query: { limit: 50 } }, signal }),
  });
  const [open, setOpen] = useState<string | null>(null);
  return (
    <div className="space-y-4">
      <Card>
        <CardTitle>Script executions</CardTitle>
        {execs.isPending ? (
          <Loading />
        ) : execs.isError ? (
          <ErrorState error={execs.error} retry={() => execs.refetch()} />
        ) : execs.data.data.length === 0 ? (
          <p className="text-sm text-muted-fg">No script has run on this device yet.</p>
        ) : (
          <ul className="divide-y divide-border">
            {execs.data.data.map((e) => (
              <li key={e.id} className="py-2 text-sm">
                <button type="button" className="flex w-full items-center justify-between gap-2 text-left" aria-expanded={open === e.id} onClick={() => setOpen(open === e.id ? null : e.id)}>
                  <span className="font-medium">{e.script_name ?? e.script_id}</span>
                  <span className="flex items-center gap-2 text-xs text-muted-fg">
                    {formatDateTime(e.created_at)} <Badge tone={executionTone(e.status)}>{e.status}</Badge>
                  </span>
                </button>
                {open === e.id && (
                  <div className="mt-2">
                    <ExecutionOutput execution={e} />
                  </div>
                )}
              </li>
            ))}
          </ul>
        )}
      </Card>
      <Card>
        <CardTitle>Commands</CardTitle>
        {cmds.isPending ? (
          <Loading />
        ) : cmds.isError ? (
          <ErrorState error={cmds.error} retry={() => cmds.refetch()} />
        ) : cmds.data.data.length === 0 ? (
          <p className="text-sm text-muted-fg">No commands yet.</p>
        ) : (
          <Table>
            <thead>
              <tr>
                <Th>Type</Th>
                <Th>Status</Th>
                <Th>Queued</Th>
                <Th className="hidden md:table-cell">Completed</Th>
              </tr>
            </thead>
            <tbody>
              {cmds.data.data.map((c) => (
                <tr key={c.id}>
                  <Td className="font-mono text-xs">{c.type}</Td>
                  <Td>
                    <Badge tone={executionTone(c.status)}>{c.status}</Badge>
                  </Td>
                  <Td>{formatDateTime(c.created_at)}</Td>
                  <Td className="hidden md:table-cell">{formatDateTime(c.completed_at)}</Td>
                </tr>
              ))}
            </tbody>
          </Table>
        )}
      </Card>
    </div>
  );
}

function EditDialog({ d, onClose }: { d: Device; onClose: () => void }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState(d.display_name ?? "");
  const [tags, setTags] = useState((d.tags ?? []).join(", "));
  const m = useMutation({
    mutationFn: () =>
      patchDevice(d.id, {
        display_name: name.trim() || null,
        tags: tags
          .split(",")
          .map((t) => t.trim())
          .filter(Boolean),
      }),
    onSuccess: () => {
      toast("Device updated.");
      void qc.invalidateQueries({ queryKey: ["device", d.id] });
      void qc.invalidateQueries({ queryKey: ["devices"] });
      onClose();
    },
  });
  return (
    <Dialog
      open
      onClose={onClose}
      title="Edit device"
      footer={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button loading={m.isPending} onClick={() => m.mutate()}>
            Save
          </Button>
        </>
      }
    >
      <div className="space-y-3">
        <Field label="Display name" hint={`Leave empty to show the hostname (${d.hostname}).`}>
          {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} autoFocus />}
        </Field>
        <Field label="Tags" hint="Comma separated.">
          {(p) => <Input {...p} value={tags} onChange={(e) => setTags(e.target.value)} />}
        </Field>
        {m.isError && <Notice tone="danger">{errorMessage(m.error)}</Notice>}
      </div>
    </Dialog>
  );
}
