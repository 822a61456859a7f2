// Alert rules: the list, the rule builder (targets, conditions, cooldown, auto-resolve,
// channels, escalation), "Test" (which devices would fire now) and the built-in templates.
import { useMemo, useState } from "react";
import { Link } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { ApiError, errorMessage } from "../../api/client";
import type { AlertRule, AlertRuleTestResult } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions, DialogForm, Options } from "../../components/ui/dialog-form";
import { Checkbox, Field, Input, Select, Textarea } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useGroups, useOrgDevices, useOrgs, useSites } from "../../lib/queries";
import { useAlertRules, useChannels, usePolicies } from "../../lib/alertQueries";
import {
  ALL_DEVICES,
  conditionsFromJson,
  conditionsToJson,
  contextEntries,
  describeConditions,
  fieldTarget,
  newCondition,
  SEVERITIES,
  severityLabel,
  targetsEmpty,
  targetsFromJson,
  targetsToJson,
  validateConditions,
  type EditConditions,
  type EditTargets,
  type Severity,
} from "../../lib/alerts";
import { NoOrgsNotice } from "../../components/NoOrgsNotice";
import { ConditionEditor, TargetsEditor, type RowErrors } from "./ConditionEditor";
import { SeverityChip } from "./AlertParts";

export default function AlertRules() {
  const perms = usePerms();
  const scope = useOrgScope();
  const rules = useAlertRules(scope.orgId);
  const [editing, setEditing] = useState<AlertRule | "new" | null>(null);
  const [testing, setTesting] = useState<AlertRule | null>(null);
  const [templates, setTemplates] = useState(false);
  const canWrite = perms.can("alerts:write");
  return (
    <div>
      <PageHeader
        title="Alert rules"
        description="What to watch for on which devices, and who hears of it."
        actions={
          canWrite && (
            <>
              <Button variant="secondary" onClick={() => setTemplates(true)}>
                Enable built-in rules
              </Button>
              <Button onClick={() => setEditing("new")}>New rule</Button>
            </>
          )
        }
      />
      {rules.isPending ? (
        <Loading label="Loading rules…" />
      ) : rules.isError ? (
        <ErrorState error={rules.error} retry={() => rules.refetch()} title="Could not load alert rules" />
      ) : rules.data.length === 0 ? (
        <EmptyState
          title="No alert rules yet"
          action={
            canWrite && (
              <div className="flex flex-wrap justify-center gap-2">
                <Button onClick={() => setTemplates(true)}>Enable built-in rules</Button>
                <Button variant="secondary" onClick={() => setEditing("new")}>
                  Build a rule
                </Button>
              </div>
            )
          }
        >
          Start with the built-in rules (CPU high, memory high, disk almost full, device offline, antivirus removed), or build your own.
        </EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>Severity</Th>
              <Th className="hidden md:table-cell">Conditions</Th>
              <Th className="hidden sm:table-cell">Open alerts</Th>
              <Th>State</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {rules.data.map((r) => (
              <tr key={r.id}>
                <Td>
                  <span className="font-medium">{r.name}</span>
                  {r.template && <span className="ml-2 text-xs text-muted-fg">built-in</span>}
                  {r.description && <div className="text-xs text-muted-fg">{r.description}</div>}
                </Td>
                <Td>
                  <SeverityChip severity={r.severity} />
                </Td>
                <Td className="hidden max-w-sm md:table-cell">{describeConditions(r.conditions)}</Td>
                <Td className="hidden sm:table-cell">
                  {r.open_alerts > 0 ? (
                    <Link className="text-primary hover:underline" to={`/alerts?rule=${r.id}`}>
                      {r.open_alerts}
                    </Link>
                  ) : (
                    0
                  )}
                </Td>
                <Td>
                  <Badge tone={r.enabled ? "ok" : "muted"}>{r.enabled ? "Enabled" : "Disabled"}</Badge>
                </Td>
                <Td className="whitespace-nowrap text-right">
                  <Button size="sm" variant="ghost" onClick={() => setTesting(r)} aria-label={`Test ${r.name}`}>
                    Test
                  </Button>
                  {canWrite && (
                    <Button size="sm" variant="ghost" onClick={() => setEditing(r)} aria-label={`Edit ${r.name}`}>
                      Edit
                    </Button>
                  )}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {editing && <RuleDialog rule={editing === "new" ? null : editing} onClose={() => setEditing(null)} onTest={(r) => (setEditing(null), setTesting(r))} />}
      {testing && <TestDialog rule={testing} onClose={() => setTesting(null)} />}
      {templates && <TemplatesDialog onClose={() => setTemplates(false)} />}
    </div>
  );
}

interface Top {
  name: string;
  description: string;
  severity: Severity;
  enabled: boolean;
  org_id: string;
  cooldown: string;
  auto_resolve: boolean;
  channels: string[];
  policy: string;
}
type TopErrors = Partial<Record<keyof Top | "targets" | "_form", string>>;

/** Server field names → the form field they are shown on. */
const FIELD_OF: Record<string, keyof Top | "targets"> = {
  name: "name",
  description: "description",
  severity: "severity",
  enabled: "enabled",
  org_id: "org_id",
  cooldown_minutes: "cooldown",
  auto_resolve: "auto_resolve",
  notification_channels: "channels",
  escalation_policy_id: "policy",
  targets: "targets",
};

function RuleDialog({ rule, onClose, onTest }: { rule: AlertRule | null; onClose: () => void; onTest: (r: AlertRule) => void }) {
  const scope = useOrgScope();
  const perms = usePerms();
  const qc = useQueryClient();
  const toast = useToast();
  const orgs = useOrgs();
  const [top, setTop] = useState<Top>({
    name: rule?.name ?? "",
    description: rule?.description ?? "",
    severity: (rule?.severity as Severity) ?? "medium",
    enabled: rule?.enabled ?? true,
    org_id: rule?.org_id ?? scope.orgId ?? "",
    cooldown: String(rule?.cooldown_minutes ?? 15),
    auto_resolve: rule?.auto_resolve ?? true,
    channels: rule?.notification_channels ?? [],
    policy: rule?.escalation_policy_id ?? "",
  });
  const parsed = rule ? conditionsFromJson(rule.conditions) : null;
  const unreadable = !!rule && !parsed;
  const [conds, setConds] = useState<EditConditions>(() => parsed ?? { match: "all", rows: [newCondition()] });
  const [targets, setTargets] = useState<EditTargets>(() => (rule ? targetsFromJson(rule.targets) : { ...ALL_DEVICES }));
  const [submitted, setSubmitted] = useState(false);
  const [server, setServer] = useState<{ top: TopErrors; rows: RowErrors }>({ top: {}, rows: new Map() });
  const [busy, setBusy] = useState(false);
  const sites = useSites(top.org_id || null);
  const groups = useGroups(top.org_id || null);
  const devices = useOrgDevices(top.org_id);
  const channels = useChannels(top.org_id || null);
  const policies = usePolicies(top.org_id || null);

  // The console's own checks, shown after the first save attempt; the server's until the input changes.
  const local = useMemo(() => {
    const t: TopErrors = {};
    if (!top.name.trim()) t.name = "Name the rule.";
    if (!top.org_id) t.org_id = "Choose an organization.";
    if (!/^\d+$/.test(top.cooldown.trim())) t.cooldown = "Whole minutes, 0 or more.";
    if (targetsEmpty(targets)) t.targets = "Choose at least one site, group, device or OS, or all devices.";
    return { top: t, rows: validateConditions(conds) };
  }, [top, targets, conds]);
  const topErrors: TopErrors = { ...server.top, ...(submitted ? local.top : {}) };
  const rowErrors: RowErrors = new Map(server.rows);
  if (submitted) for (const [i, e] of local.rows) rowErrors.set(i, { ...rowErrors.get(i), ...e });

  const set = <K extends keyof Top>(k: K, v: Top[K]) => {
    setTop((t) => ({ ...t, [k]: v }));
    setServer((s) => ({ ...s, top: { ...s.top, [k]: undefined, _form: undefined } }));
  };
  const changeConds = (c: EditConditions) => {
    setConds(c);
    setServer((s) => ({ ...s, rows: new Map() }));
  };
  const changeTargets = (t: EditTargets) => {
    setTargets(t);
    setServer((s) => ({ ...s, top: { ...s.top, targets: undefined } }));
  };

  const save = async () => {
    setSubmitted(true);
    if (Object.keys(local.top).length || local.rows.size) return;
    setBusy(true);
    const body = {
      name: top.name.trim(),
      description: top.description.trim() || null,
      severity: top.severity,
      enabled: top.enabled,
      targets: targetsToJson(targets),
      conditions: conditionsToJson(conds),
      cooldown_minutes: Number(top.cooldown),
      auto_resolve: top.auto_resolve,
      notification_channels: top.channels,
      escalation_policy_id: top.policy || null,
    };
    try {
      if (rule) await api.PATCH("/api/v1/alert-rules/{id}", { params: { path: { id: rule.id } }, body });
      else await api.POST("/api/v1/alert-rules", { body: { ...body, org_id: top.org_id, description: body.description ?? undefined, escalation_policy_id: body.escalation_policy_id ?? undefined } });
      void qc.invalidateQueries({ queryKey: ["alert-rules"] });
      toast(rule ? "Rule saved." : "Rule created.");
      onClose();
    } catch (e) {
      setServer(placeServerError(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!rule) return;
    try {
      await api.DELETE("/api/v1/alert-rules/{id}", { params: { path: { id: rule.id } } });
      void qc.invalidateQueries({ queryKey: ["alert-rules"] });
      toast("Rule deleted.");
      onClose();
    } catch (e) {
      setServer({ top: { _form: errorMessage(e) }, rows: new Map() });
    }
  };

  const deviceItems = useMemo(() => (devices.data ?? []).map((d) => ({ id: d.id, name: d.display_name || d.hostname })), [devices.data]);
  const channelList = channels.data ?? [];

  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title={rule ? `Edit ${rule.name}` : "New alert rule"}
      footer={
        <>
          {rule && (
            <Button variant="secondary" className="mr-auto" onClick={() => onTest(rule)}>
              Test
            </Button>
          )}
          <DialogActions onCancel={onClose} onSubmit={() => void save()} busy={busy} submitLabel={rule ? "Save" : "Create rule"} onDelete={rule && perms.can("alerts:write") ? () => void remove() : undefined} />
        </>
      }
    >
      <DialogForm onSubmit={() => void save()}>
        <div className="grid gap-3 sm:grid-cols-[2fr_1fr]">
          <Field label="Name" error={topErrors.name}>
            {(p) => <Input {...p} value={top.name} onChange={(e) => set("name", e.target.value)} autoFocus />}
          </Field>
          <Field label="Severity" error={topErrors.severity}>
            {(p) => (
              <Select {...p} value={top.severity} onChange={(e) => set("severity", e.target.value as Severity)}>
                {SEVERITIES.map((s) => (
                  <option key={s} value={s}>
                    {severityLabel(s)}
                  </option>
                ))}
              </Select>
            )}
          </Field>
        </div>
        <Field label="Description (optional)" error={topErrors.description}>
          {(p) => <Textarea {...p} rows={2} value={top.description} onChange={(e) => set("description", e.target.value)} />}
        </Field>
        {!rule && scope.canSwitch && (
          <>
            <Field label="Organization" error={topErrors.org_id}>
              {(p) => (
                <Select {...p} value={top.org_id} onChange={(e) => (set("org_id", e.target.value), set("channels", []), set("policy", ""), changeTargets({ ...ALL_DEVICES }))}>
                  <Options items={orgs.data} />
                </Select>
              )}
            </Field>
            <NoOrgsNotice orgs={orgs} />
          </>
        )}
        {!scope.canSwitch && topErrors.org_id && <Notice tone="danger">{topErrors.org_id}</Notice>}
        <TargetsEditor value={targets} onChange={changeTargets} sites={sites.data ?? []} groups={groups.data ?? []} devices={deviceItems} error={topErrors.targets} />
        {unreadable && <Notice tone="warn">This rule's stored conditions use a form this editor does not show (nested groups); saving replaces them with what is shown here.</Notice>}
        <ConditionEditor value={conds} onChange={changeConds} errors={rowErrors} />
        <div className="grid gap-3 sm:grid-cols-3">
          <Field label="Cooldown (minutes)" hint="After an alert resolves, wait this long before raising another on the same device." error={topErrors.cooldown}>
            {(p) => <Input {...p} inputMode="numeric" value={top.cooldown} onChange={(e) => set("cooldown", e.target.value)} />}
          </Field>
          <div className="space-y-2 pt-6">
            <Checkbox label="Resolve automatically when the condition clears" checked={top.auto_resolve} onChange={(e) => set("auto_resolve", e.target.checked)} />
            <Checkbox label="Enabled" checked={top.enabled} onChange={(e) => set("enabled", e.target.checked)} />
          </div>
          <Field label="Escalation policy" error={topErrors.policy}>
            {(p) => (
              <Select {...p} value={top.policy} onChange={(e) => set("policy", e.target.value)}>
                <Options items={policies.data} placeholder="None" />
              </Select>
            )}
          </Field>
        </div>
        <fieldset aria-describedby={topErrors.channels ? "rule-channels-err" : undefined}>
          <legend className="mb-1 text-sm font-medium">Notify these channels</legend>
          {channelList.length === 0 ? (
            <p className="text-sm text-muted-fg">
              No notification channel in this organization yet: <Link to="/notification-channels" className="text-primary hover:underline">add one</Link>.
            </p>
          ) : (
            <div className="flex flex-wrap gap-x-4 gap-y-1">
              {channelList.map((c) => (
                <Checkbox
                  key={c.id}
                  label={`${c.name}${c.enabled ? "" : " (disabled)"}`}
                  checked={top.channels.includes(c.id)}
                  onChange={() => set("channels", top.channels.includes(c.id) ? top.channels.filter((x) => x !== c.id) : [...top.channels, c.id])}
                />
              ))}
            </div>
          )}
          {topErrors.channels && (
            <p id="rule-channels-err" role="alert" className="mt-1 text-xs font-medium text-danger">
              {topErrors.channels}
            </p>
          )}
        </fieldset>
        {topErrors._form && <Notice tone="danger">{topErrors._form}</Notice>}
      </DialogForm>
    </Dialog>
  );
}

/** A server error placed on the input its field path names (else the form's own notice). */
export function placeServerError(e: unknown): { top: TopErrors; rows: RowErrors } {
  const rows: RowErrors = new Map();
  if (e instanceof ApiError && e.field) {
    const t = fieldTarget(e.field);
    if (t.field === "conditions") {
      rows.set(t.row ?? -1, { [t.input ?? "_"]: e.message });
      return { top: {}, rows };
    }
    const f = FIELD_OF[t.field];
    if (f) return { top: { [f]: e.message }, rows };
  }
  return { top: { _form: errorMessage(e) }, rows };
}

function TestDialog({ rule, onClose }: { rule: AlertRule; onClose: () => void }) {
  const q = useQuery({
    queryKey: ["alert-rule-test", rule.id],
    queryFn: () => api.POST("/api/v1/alert-rules/{id}/test", { params: { path: { id: rule.id } } }),
    gcTime: 0,
  });
  return (
    <Dialog open wide onClose={onClose} title={`Test ${rule.name}`}>
      <p className="mb-3 text-sm text-muted-fg">The rule evaluated now against current data. Nothing is raised and no one is notified.</p>
      {q.isPending ? (
        <Loading label="Evaluating…" />
      ) : q.isError ? (
        <ErrorState error={q.error} retry={() => q.refetch()} title="Could not test the rule" />
      ) : (
        <TestResult r={q.data} />
      )}
    </Dialog>
  );
}

function TestResult({ r }: { r: AlertRuleTestResult }) {
  const firing = r.devices.filter((d) => d.firing);
  return (
    <div className="space-y-3">
      <p className="text-sm" role="status">
        <strong>{r.firing_devices}</strong> of {r.evaluated_devices} targeted {r.evaluated_devices === 1 ? "device" : "devices"} would fire now.
      </p>
      {r.devices.length > 0 && (
        <Table>
          <thead>
            <tr>
              <Th>Device</Th>
              <Th>Would fire</Th>
              <Th className="hidden sm:table-cell">Values seen</Th>
            </tr>
          </thead>
          <tbody>
            {[...firing, ...r.devices.filter((d) => !d.firing)].map((d) => (
              <tr key={d.device_id}>
                <Td>
                  <Link to={`/devices/${d.device_id}`} className="text-primary hover:underline">
                    {d.hostname}
                  </Link>
                </Td>
                <Td>
                  <Badge tone={d.firing ? "danger" : "ok"}>{d.firing ? "Fires" : "No"}</Badge>
                </Td>
                <Td className="hidden font-mono text-xs sm:table-cell">
                  {contextEntries(d.context)
                    .map(([k, v]) => `${k}: ${v}`)
                    .join(" · ") || "—"}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
    </div>
  );
}

/** "Enable built-in rules": the templates, an organization, optional channels. */
export function TemplatesDialog({ onClose, orgId: fixedOrg }: { onClose: () => void; orgId?: string }) {
  const scope = useOrgScope();
  const orgs = useOrgs();
  const qc = useQueryClient();
  const toast = useToast();
  const [orgId, setOrgId] = useState(fixedOrg ?? scope.orgId ?? "");
  const [chosen, setChosen] = useState<string[] | null>(null);
  const [channels, setChannels] = useState<string[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const templates = useQuery({
    queryKey: ["alert-rule-templates"],
    queryFn: ({ signal }) => api.GET("/api/v1/alert-rules/templates", { signal }),
    staleTime: Infinity,
  });
  const chan = useChannels(orgId || null);
  const list = templates.data?.data ?? [];
  const picked = chosen ?? list.map((t) => t.key);
  const submit = async () => {
    setError(null);
    if (!orgId) return setError("Choose an organization.");
    if (picked.length === 0) return setError("Choose at least one rule.");
    setBusy(true);
    try {
      const made = await api.POST("/api/v1/alert-rules/from-template", { body: { org_id: orgId, templates: picked, notification_channels: channels } });
      void qc.invalidateQueries({ queryKey: ["alert-rules"] });
      toast(`${made.data.length} built-in ${made.data.length === 1 ? "rule" : "rules"} enabled.`);
      onClose();
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog open onClose={onClose} title="Enable built-in rules" footer={<DialogActions onCancel={onClose} onSubmit={() => void submit()} busy={busy} submitLabel="Enable" />}>
      <DialogForm onSubmit={() => void submit()}>
        {!fixedOrg && scope.canSwitch && (
          <Field label="Organization">
            {(p) => (
              <Select {...p} value={orgId} onChange={(e) => (setOrgId(e.target.value), setChannels([]))}>
                <Options items={orgs.data} />
              </Select>
            )}
          </Field>
        )}
        {templates.isPending ? (
          <Loading label="Loading templates…" />
        ) : templates.isError ? (
          <ErrorState error={templates.error} retry={() => templates.refetch()} />
        ) : (
          <fieldset className="space-y-2">
            <legend className="mb-1 text-sm font-medium">Rules</legend>
            {list.map((t) => (
              <label key={t.key} className="flex items-start gap-2 text-sm">
                <input
                  type="checkbox"
                  className="mt-0.5 size-4"
                  checked={picked.includes(t.key)}
                  onChange={() => setChosen(picked.includes(t.key) ? picked.filter((k) => k !== t.key) : [...picked, t.key])}
                />
                <span>
                  <span className="font-medium">{t.name}</span> <SeverityChip severity={t.severity} />
                  <span className="block text-xs text-muted-fg">{t.description}</span>
                </span>
              </label>
            ))}
          </fieldset>
        )}
        {(chan.data?.length ?? 0) > 0 && (
          <fieldset>
            <legend className="mb-1 text-sm font-medium">Notify</legend>
            <div className="flex flex-wrap gap-x-4 gap-y-1">
              {chan.data?.map((c) => (
                <Checkbox key={c.id} label={c.name} checked={channels.includes(c.id)} onChange={() => setChannels(channels.includes(c.id) ? channels.filter((x) => x !== c.id) : [...channels, c.id])} />
              ))}
            </div>
          </fieldset>
        )}
        {error && <Notice tone="danger">{error}</Notice>}
      </DialogForm>
    </Dialog>
  );
}
