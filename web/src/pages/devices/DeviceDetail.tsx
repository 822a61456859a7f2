import { useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { Data, Device, DeviceCommand, DeviceHardware, DeviceSoftware, Page, ScriptExecution } from "../../api/types";
import { Badge, Card, CardTitle, DefinitionList, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { Field, Input } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Table, Td, Th } from "../../components/ui/table";
import { Tabs } from "../../components/ui/tabs";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { deviceName, patchDevice, statusLabel, statusTone, unwrap } from "../../lib/devices";
import { formatDateTime, osLabel, relativeTime } from "../../lib/format";
import { errorMessage } from "../../api/client";
import { RunScriptDialog } from "../scripts/RunScriptDialog";
import { ExecutionOutput, executionTone } from "../scripts/ExecutionOutput";
import { MetricsTab } from "./MetricsTab";
import { ProcessesTab, UsersTab } from "./SnapshotTabs";

type Tab = "overview" | "hardware" | "software" | "processes" | "users" | "network" | "disks" | "metrics" | "activity";
const TABS: Array<{ id: Tab; label: string }> = [
  { id: "overview", label: "Overview" },
  { id: "hardware", label: "Hardware" },
  { id: "software", label: "Software" },
  { id: "processes", label: "Processes" },
  { id: "users", label: "Users" },
  { id: "network", label: "Network" },
  { id: "disks", label: "Disks" },
  { id: "metrics", label: "Metrics" },
  { id: "activity", label: "Commands & scripts" },
];

function useHardware(id: string) {
  return useQuery({
    queryKey: ["device", id, "hardware"],
    queryFn: ({ signal }) => api
        .get<Data<DeviceHardware> | DeviceHardware | { hardware: DeviceHardware }>(`/api/v1/devices/${id}/hardware`, undefined, signal)
        // The server answers {"hardware": {...}, "os": {...}}.
        .then((v) => (v && typeof v === "object" && "hardware" in v ? v.hardware : unwrap(v as Data<DeviceHardware> | DeviceHardware))),
  });
}

export default function DeviceDetail() {
  const { id = "" } = useParams();
  const perms = usePerms();
  const [tab, setTab] = useState<Tab>("overview");
  const [dialog, setDialog] = useState<"run" | "edit" | `confirm-${keyof typeof CONFIRM}` | null>(null);
  const q = useQuery({
    queryKey: ["device", id],
    queryFn: ({ signal }) => api.get<Data<Device> | Device>(`/api/v1/devices/${id}`, undefined, signal).then(unwrap),
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
          <span className="inline-flex flex-wrap items-center gap-2">
            <Badge tone={statusTone(d.status)}>{statusLabel(d.status)}</Badge>
            {osLabel(d.os_type)} {d.os_version} · last seen {relativeTime(d.last_seen_at)}
          </span>
        }
        actions={
          <>
            {perms.can("scripts:execute") && <Button onClick={() => setDialog("run")}>Run script</Button>}
            {perms.can("devices:write") && (
              <Button variant="secondary" onClick={() => setDialog("edit")}>
                Edit
              </Button>
            )}
            {perms.can("devices:execute") && d.status !== "decommissioned" && (
              <Button variant="secondary" onClick={() => setDialog("confirm-reboot")}>
                Reboot
              </Button>
            )}
            {perms.can("devices:admin") &&
              (d.status === "quarantined" || d.status === "maintenance" ? (
                <Button variant="secondary" onClick={() => setDialog("confirm-reactivate")}>
                  {d.status === "quarantined" ? "Release from quarantine" : "End maintenance"}
                </Button>
              ) : (
                d.status !== "decommissioned" && (
                  <>
                    <Button variant="secondary" onClick={() => setDialog("confirm-maintenance")}>
                      Maintenance
                    </Button>
                    <Button variant="secondary" onClick={() => setDialog("confirm-quarantine")}>
                      Quarantine
                    </Button>
                  </>
                )
              ))}
            {perms.can("devices:delete") && (
              <Button variant="danger" onClick={() => setDialog("confirm-decommission")}>
                Decommission
              </Button>
            )}
          </>
        }
      />
      {d.status === "awaiting_checkin" && (
        <div className="mb-4">
          <Notice>The agent enrolled this machine but has not checked in yet: it shows online once the agent runs (the install script starts it; else run <code>breeze-agent run</code> or <code>sudo breeze-agent install</code> on the machine).</Notice>
        </div>
      )}
      <Tabs label="Device details" tabs={TABS} value={tab} onChange={setTab} />
      <div role="tabpanel" id={`panel-${tab}`} aria-labelledby={`tab-${tab}`}>
        {tab === "overview" && <Overview d={d} />}
        {tab === "hardware" && <HardwareTab id={id} />}
        {tab === "software" && <SoftwareTab id={id} />}
        {tab === "processes" && <ProcessesTab id={id} />}
        {tab === "users" && <UsersTab id={id} />}
        {tab === "network" && <NetworkTab id={id} />}
        {tab === "disks" && <DisksTab id={id} />}
        {tab === "metrics" && <MetricsTab id={id} />}
        {tab === "activity" && <ActivityTab id={id} />}
      </div>
      {dialog === "run" && <RunScriptDialog open onClose={() => setDialog(null)} target={{ device_ids: [id] }} targetLabel={deviceName(d)} />}
      {dialog === "edit" && <EditDialog d={d} onClose={() => setDialog(null)} />}
      {dialog?.startsWith("confirm-") && <ConfirmAction d={d} action={dialog.slice(8) as keyof typeof CONFIRM} onClose={() => setDialog(null)} />}
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
            ["Operating system", `${osLabel(d.os_type)} ${d.os_version ?? ""} ${d.os_build ?? ""}`],
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
  const q = useHardware(id);
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  const h = q.data;
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
          ["Updated", formatDateTime(h.updated_at)],
        ]}
      />
    </Card>
  );
}

function SoftwareTab({ id }: { id: string }) {
  const [search, setSearch] = useState("");
  const q = useQuery({
    queryKey: ["device", id, "software", search],
    queryFn: ({ signal }) => api.get<Page<DeviceSoftware>>(`/api/v1/devices/${id}/software`, { q: search.trim() || undefined, limit: 500 }, signal),
    placeholderData: (prev) => prev,
  });
  return (
    <div className="space-y-3">
      <Input type="search" aria-label="Search software" placeholder="Search software…" value={search} onChange={(e) => setSearch(e.target.value)} className="max-w-sm" />
      {q.isPending ? (
        <Loading />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} />
      ) : q.data.data.length === 0 ? (
        <EmptyState title={search ? "No software matches" : "No software reported yet"} />
      ) : (
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
            {q.data.data.map((s, i) => (
              <tr key={s.id ?? `${s.name}-${i}`}>
                <Td className="font-medium">{s.name}</Td>
                <Td>{s.version ?? "—"}</Td>
                <Td className="hidden md:table-cell">{s.publisher ?? "—"}</Td>
                <Td className="hidden md:table-cell">{s.install_date ?? "—"}</Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {q.data?.next_cursor && <p className="text-xs text-muted-fg">Showing the first 500; search to narrow down.</p>}
    </div>
  );
}

function NetworkTab({ id }: { id: string }) {
  const q = useHardware(id);
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  const nets = q.data.network ?? [];
  if (!nets.length) return <EmptyState title="No network interfaces reported yet" />;
  return (
    <Table>
      <thead>
        <tr>
          <Th>Interface</Th>
          <Th>IP address</Th>
          <Th>MAC</Th>
          <Th className="hidden md:table-cell">Public IP</Th>
        </tr>
      </thead>
      <tbody>
        {nets.map((n, i) => (
          <tr key={`${n.interface_name}-${n.ip_address}-${i}`}>
            <Td className="font-medium">
              {n.interface_name} {n.is_primary && <Badge tone="primary">primary</Badge>}
            </Td>
            <Td className="font-mono text-xs">{n.ip_address ?? "—"}</Td>
            <Td className="font-mono text-xs">{n.mac_address ?? "—"}</Td>
            <Td className="hidden font-mono text-xs md:table-cell">{n.public_ip ?? "—"}</Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}

function DisksTab({ id }: { id: string }) {
  const q = useHardware(id);
  if (q.isPending) return <Loading />;
  if (q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  const disks = q.data.disks ?? [];
  if (!disks.length) return <EmptyState title="No disks reported yet" />;
  return (
    <div className="grid gap-3 md:grid-cols-2">
      {disks.map((k) => {
        const pct = k.total_gb ? Math.round((k.used_gb / k.total_gb) * 100) : 0;
        return (
          <Card key={k.mount_point}>
            <CardTitle>
              <span className="font-mono">{k.mount_point}</span>
            </CardTitle>
            <div className="h-2 overflow-hidden rounded bg-muted" role="meter" aria-valuenow={pct} aria-valuemin={0} aria-valuemax={100} aria-label={`${k.mount_point} used`}>
              <div className={pct > 90 ? "h-full bg-danger" : pct > 75 ? "h-full bg-warn" : "h-full bg-primary"} style={{ width: `${pct}%` }} />
            </div>
            <p className="mt-2 text-sm text-muted-fg">
              {k.used_gb.toFixed(1)} of {k.total_gb.toFixed(1)} GB used ({pct}%) {k.filesystem && `· ${k.filesystem}`}
            </p>
          </Card>
        );
      })}
    </div>
  );
}

function ActivityTab({ id }: { id: string }) {
  const execs = useQuery({
    queryKey: ["executions", "device", id],
    queryFn: ({ signal }) => api.get<Page<ScriptExecution>>("/api/v1/script-executions", { device_id: id, limit: 50, sort: "-created_at" }, signal),
  });
  const cmds = useQuery({
    queryKey: ["device-commands", id],
    queryFn: ({ signal }) => api.get<Page<DeviceCommand>>(`/api/v1/devices/${id}/commands`, { limit: 50, sort: "-created_at" }, signal),
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

const CONFIRM = {
  reboot: { title: "Reboot this device?", text: "The agent restarts the machine now. Anyone signed in to it loses unsaved work.", button: "Reboot" },
  quarantine: {
    title: "Quarantine this device?",
    text: "No script or command runs on it until you release it. The agent keeps reporting, so you still see its state.",
    button: "Quarantine",
  },
  maintenance: {
    title: "Put this device in maintenance?",
    text: "It stays managed and keeps reporting; alerts about it are held until maintenance ends.",
    button: "Start maintenance",
  },
  reactivate: {
    title: "Return this device to service?",
    text: "Scripts and commands can run on it again.",
    button: "Return to service",
  },
  decommission: {
    title: "Decommission this device?",
    text: "The device is removed from Breeze and its agent token stops working. Install the agent again to bring it back.",
    button: "Decommission",
  },
} as const;

function ConfirmAction({ d, action, onClose }: { d: Device; action: keyof typeof CONFIRM; onClose: () => void }) {
  const qc = useQueryClient();
  const [reason, setReason] = useState("");
  const toast = useToast();
  const navigate = useNavigate();
  const m = useMutation({
    mutationFn: () =>
      action === "decommission"
        ? api.delete(`/api/v1/devices/${d.id}`)
        : action === "reboot"
          ? api.post(`/api/v1/devices/${d.id}/commands`, { type: "reboot", payload: {} })
          : api.post(`/api/v1/devices/${d.id}/${action}`, reason.trim() ? { reason: reason.trim() } : {}),
    onSuccess: () => {
      void qc.invalidateQueries({ queryKey: ["devices"] });
      void qc.invalidateQueries({ queryKey: ["device", d.id] });
      void qc.invalidateQueries({ queryKey: ["device-commands", d.id] });
      toast(
        action === "decommission"
          ? `${deviceName(d)} was decommissioned.`
          : action === "reboot"
            ? "Reboot queued."
            : action === "reactivate"
              ? `${deviceName(d)} is back in service.`
              : `${deviceName(d)} is now in ${action === "quarantine" ? "quarantine" : "maintenance"}.`,
      );
      onClose();
      if (action === "decommission") navigate("/devices");
    },
  });
  const c = CONFIRM[action];
  return (
    <Dialog
      open
      onClose={onClose}
      title={c.title}
      footer={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button variant="danger" loading={m.isPending} onClick={() => m.mutate()}>
            {c.button}
          </Button>
        </>
      }
    >
      <p className="text-sm">
        <strong>{deviceName(d)}</strong>: {c.text}
      </p>
      {(action === "quarantine" || action === "maintenance") && (
        <div className="mt-3">
          <Field label="Reason (optional, kept in the device's history)">{(p) => <Input {...p} value={reason} onChange={(e) => setReason(e.target.value)} maxLength={500} />}</Field>
        </div>
      )}
      {m.isError && (
        <div className="mt-3">
          <Notice tone="danger">{errorMessage(m.error)}</Notice>
        </div>
      )}
    </Dialog>
  );
}
