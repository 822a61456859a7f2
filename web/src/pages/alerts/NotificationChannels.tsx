// Notification channels: e-mail, webhook, Slack, Teams, PagerDuty and SMS, each with its own
// configuration fields. A webhook's signing secret is shown once, at creation. "Send test"
// queues a test notification and opens the channel's delivery log.
import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { ApiError, errorMessage } from "../../api/client";
import type { NotificationChannel } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { CopyField } from "../../components/ui/copy";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions, DialogForm, Options } from "../../components/ui/dialog-form";
import { Checkbox, Field, Input, Select, Textarea } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useOrgs } from "../../lib/queries";
import { useChannels } from "../../lib/alertQueries";
import { CHANNEL_LABELS, CHANNEL_TYPES, type ChannelType } from "../../lib/alerts";
import { buildChannelConfig, channelSummary, configToForm, EMPTY_CHANNEL_FORM, type ChannelForm } from "../../lib/channels";
import { NoOrgsNotice } from "../../components/NoOrgsNotice";
import { DeliveryTable } from "./AlertParts";

export default function NotificationChannels() {
  const perms = usePerms();
  const scope = useOrgScope();
  const channels = useChannels(scope.orgId);
  const qc = useQueryClient();
  const toast = useToast();
  const [editing, setEditing] = useState<NotificationChannel | "new" | null>(null);
  const [log, setLog] = useState<NotificationChannel | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const [testing, setTesting] = useState<string | null>(null);
  const canWrite = perms.can("alerts:write");

  const sendTest = async (c: NotificationChannel) => {
    setTesting(c.id);
    try {
      await api.POST("/api/v1/notification-channels/{id}/test", { params: { path: { id: c.id } } });
      void qc.invalidateQueries({ queryKey: ["channel-deliveries", c.id] });
      toast(`Test notification queued for ${c.name}.`);
      setLog(c);
    } catch (e) {
      toast(`Could not send a test through ${c.name}: ${errorMessage(e)}`, "danger");
    } finally {
      setTesting(null);
    }
  };
  const setEnabled = async (c: NotificationChannel, enabled: boolean) => {
    try {
      await api.PATCH("/api/v1/notification-channels/{id}", { params: { path: { id: c.id } }, body: { enabled } });
      void qc.invalidateQueries({ queryKey: ["notification-channels"] });
      toast(`${c.name} ${enabled ? "enabled" : "disabled"}.`);
    } catch (e) {
      toast(errorMessage(e), "danger");
    }
  };

  return (
    <div>
      <PageHeader
        title="Notification channels"
        description="Where alerts are sent: e-mail, webhooks, Slack, Microsoft Teams, PagerDuty and SMS."
        actions={canWrite && <Button onClick={() => setEditing("new")}>New channel</Button>}
      />
      {channels.isPending ? (
        <Loading label="Loading channels…" />
      ) : channels.isError ? (
        <ErrorState error={channels.error} retry={() => channels.refetch()} title="Could not load notification channels" />
      ) : channels.data.length === 0 ? (
        <EmptyState title="No notification channels" action={canWrite && <Button onClick={() => setEditing("new")}>Add a channel</Button>}>
          Add a channel, then pick it in an alert rule or an escalation step.
        </EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>Type</Th>
              <Th className="hidden md:table-cell">Sends to</Th>
              <Th>State</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {channels.data.map((c) => (
              <tr key={c.id}>
                <Td className="font-medium">{c.name}</Td>
                <Td>{CHANNEL_LABELS[c.type as ChannelType] ?? c.type}</Td>
                <Td className="hidden max-w-xs truncate md:table-cell" title={channelSummary(c.type, c.config)}>
                  {channelSummary(c.type, c.config)}
                </Td>
                <Td>
                  <Badge tone={c.enabled ? "ok" : "muted"}>{c.enabled ? "Enabled" : "Disabled"}</Badge>
                </Td>
                <Td className="whitespace-nowrap text-right">
                  {canWrite && (
                    <Button size="sm" variant="secondary" loading={testing === c.id} onClick={() => void sendTest(c)} aria-label={`Send test through ${c.name}`}>
                      Send test
                    </Button>
                  )}
                  <Button size="sm" variant="ghost" onClick={() => setLog(c)} aria-label={`Delivery log of ${c.name}`}>
                    Deliveries
                  </Button>
                  {canWrite && (
                    <>
                      <Button size="sm" variant="ghost" className="hidden sm:inline-flex" onClick={() => void setEnabled(c, !c.enabled)} aria-label={`${c.enabled ? "Disable" : "Enable"} ${c.name}`}>
                        {c.enabled ? "Disable" : "Enable"}
                      </Button>
                      <Button size="sm" variant="ghost" onClick={() => setEditing(c)} aria-label={`Edit ${c.name}`}>
                        Edit
                      </Button>
                    </>
                  )}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {editing && (
        <ChannelDialog
          channel={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onSecret={(name, s) => setSecret({ name, secret: s })}
        />
      )}
      {log && <DeliveryLogDialog channel={log} onClose={() => setLog(null)} />}
      {secret && (
        <Dialog
          open
          onClose={() => setSecret(null)}
          title="Webhook signing secret"
          footer={<Button onClick={() => setSecret(null)}>I have stored it</Button>}
        >
          <div className="space-y-3">
            <Notice tone="warn">This is the only time the secret is shown. Store it where your receiver can read it.</Notice>
            <CopyField label={`Signing secret of ${secret.name}`} value={secret.secret} />
            <p className="text-sm text-muted-fg">
              Each POST carries <code className="font-mono text-xs">X-Breeze-Signature: sha256=&lt;hex HMAC-SHA256 of the raw body&gt;</code>, keyed with this secret.
            </p>
          </div>
        </Dialog>
      )}
    </div>
  );
}

const FIELD_OF: Record<string, keyof ChannelForm | "_form"> = {
  name: "name",
  org_id: "org_id",
  type: "type",
  "config.to": "to",
  "config.url": "url",
  "config.headers": "headers",
  "config.routing_key": "routing_key",
  "config.token": "token",
};

function ChannelDialog({ channel, onClose, onSecret }: { channel: NotificationChannel | null; onClose: () => void; onSecret: (name: string, secret: string) => void }) {
  const scope = useOrgScope();
  const orgs = useOrgs();
  const qc = useQueryClient();
  const toast = useToast();
  const [f, setF] = useState<ChannelForm>(() =>
    channel ? { ...configToForm(channel.config), name: channel.name, org_id: channel.org_id, type: channel.type as ChannelType, enabled: channel.enabled } : { ...EMPTY_CHANNEL_FORM, org_id: scope.orgId ?? "" },
  );
  const [errors, setErrors] = useState<Partial<Record<keyof ChannelForm | "_form", string>>>({});
  const [busy, setBusy] = useState(false);
  const set = <K extends keyof ChannelForm>(k: K, v: ChannelForm[K]) => {
    setF((x) => ({ ...x, [k]: v }));
    setErrors((e) => ({ ...e, [k]: undefined, _form: undefined }));
  };
  const editing = !!channel;

  const submit = async () => {
    const built = buildChannelConfig(f, editing);
    const errs: typeof errors = { ...built.errors };
    if (!f.name.trim()) errs.name = "Name the channel.";
    if (!editing && !f.org_id) errs.org_id = "Choose an organization.";
    if (Object.values(errs).some(Boolean)) return setErrors(errs);
    setBusy(true);
    try {
      if (channel) {
        await api.PATCH("/api/v1/notification-channels/{id}", { params: { path: { id: channel.id } }, body: { name: f.name.trim(), config: built.config, enabled: f.enabled } });
        toast("Channel saved.");
      } else {
        const made = await api.POST("/api/v1/notification-channels", { body: { org_id: f.org_id, name: f.name.trim(), type: f.type, config: built.config, enabled: f.enabled } });
        toast("Channel created.");
        if (made.secret) onSecret(made.name, made.secret);
      }
      void qc.invalidateQueries({ queryKey: ["notification-channels"] });
      onClose();
    } catch (e) {
      const field = e instanceof ApiError && e.field ? (FIELD_OF[e.field] ?? FIELD_OF[e.field.replace(/\[\d+\].*$/, "")] ?? (e.field.startsWith("config.headers") ? "headers" : undefined)) : undefined;
      setErrors(field ? { [field]: errorMessage(e) } : { _form: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!channel) return;
    try {
      await api.DELETE("/api/v1/notification-channels/{id}", { params: { path: { id: channel.id } } });
      void qc.invalidateQueries({ queryKey: ["notification-channels"] });
      toast("Channel deleted.");
      onClose();
    } catch (e) {
      setErrors({ _form: errorMessage(e) });
    }
  };
  const keep = editing ? "Leave empty to keep the stored one." : undefined;

  return (
    <Dialog
      open
      onClose={onClose}
      title={channel ? `Edit ${channel.name}` : "New notification channel"}
      footer={<DialogActions onCancel={onClose} onSubmit={() => void submit()} busy={busy} submitLabel={channel ? "Save" : "Create"} onDelete={channel ? () => void remove() : undefined} />}
    >
      <DialogForm onSubmit={() => void submit()}>
        <Field label="Name" error={errors.name}>
          {(p) => <Input {...p} value={f.name} onChange={(e) => set("name", e.target.value)} autoFocus />}
        </Field>
        {!editing && scope.canSwitch && (
          <>
            <Field label="Organization" error={errors.org_id}>
              {(p) => (
                <Select {...p} value={f.org_id} onChange={(e) => set("org_id", e.target.value)}>
                  <Options items={orgs.data} />
                </Select>
              )}
            </Field>
            <NoOrgsNotice orgs={orgs} />
          </>
        )}
        <Field label="Type" error={errors.type}>
          {(p) => (
            <Select {...p} value={f.type} disabled={editing} onChange={(e) => set("type", e.target.value as ChannelType)}>
              {CHANNEL_TYPES.map((t) => (
                <option key={t} value={t}>
                  {CHANNEL_LABELS[t]}
                </option>
              ))}
            </Select>
          )}
        </Field>
        {(f.type === "email" || f.type === "sms") && (
          <Field
            label={f.type === "email" ? "Recipients" : "Phone numbers"}
            hint={f.type === "email" ? "One address per line or comma separated. Sent through your SMTP settings." : "One number per line, in international format (+44…)."}
            error={errors.to}
          >
            {(p) => <Textarea {...p} rows={2} value={f.to} onChange={(e) => set("to", e.target.value)} />}
          </Field>
        )}
        {f.type !== "email" && f.type !== "pagerduty" && (
          <Field
            label={f.type === "webhook" ? "URL" : f.type === "sms" ? "Provider URL" : "Incoming webhook URL"}
            hint={f.type === "webhook" ? "HTTPS recommended. Private and loopback addresses are refused unless your operator allows them." : keep}
            error={errors.url}
          >
            {(p) => <Input {...p} type="url" value={f.url} placeholder="https://" onChange={(e) => set("url", e.target.value)} />}
          </Field>
        )}
        {f.type === "webhook" && (
          <Field label="Extra headers (optional)" hint="One per line: Name: value" error={errors.headers}>
            {(p) => <Textarea {...p} rows={2} value={f.headers} placeholder="X-Team: ops" onChange={(e) => set("headers", e.target.value)} />}
          </Field>
        )}
        {f.type === "pagerduty" && (
          <Field label="Routing key" hint={keep ?? "The integration key of a PagerDuty Events API v2 service."} error={errors.routing_key}>
            {(p) => <Input {...p} value={f.routing_key} autoComplete="off" onChange={(e) => set("routing_key", e.target.value)} />}
          </Field>
        )}
        {f.type === "sms" && (
          <Field label="Provider token (optional)" hint={keep} error={errors.token}>
            {(p) => <Input {...p} type="password" value={f.token} autoComplete="off" onChange={(e) => set("token", e.target.value)} />}
          </Field>
        )}
        {f.type === "webhook" && !editing && <p className="text-sm text-muted-fg">A signing secret is made for the webhook and shown once, after you create it.</p>}
        <Checkbox label="Enabled" checked={f.enabled} onChange={(e) => set("enabled", e.target.checked)} />
        {errors._form && <Notice tone="danger">{errors._form}</Notice>}
      </DialogForm>
    </Dialog>
  );
}

function DeliveryLogDialog({ channel, onClose }: { channel: NotificationChannel; onClose: () => void }) {
  const q = useQuery({
    queryKey: ["channel-deliveries", channel.id],
    queryFn: ({ signal }) => api.GET("/api/v1/notification-channels/{id}/deliveries", { params: { path: { id: channel.id }, query: { limit: 100 } }, signal }),
    // Pending deliveries are retried by the server; follow them until they settle.
    refetchInterval: (query) => (query.state.data?.data.some((d) => d.status === "pending") ? 1500 : 15_000),
  });
  return (
    <Dialog open wide onClose={onClose} title={`Delivery log of ${channel.name}`}>
      {q.isPending ? (
        <Loading label="Loading deliveries…" />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load the delivery log" />
      ) : q.data.data.length === 0 ? (
        <EmptyState title="Nothing sent yet">Use “Send test” to check the channel.</EmptyState>
      ) : (
        <DeliveryTable deliveries={q.data.data} showChannel={false} />
      )}
    </Dialog>
  );
}
