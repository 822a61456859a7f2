// The automation builder: name and organization, trigger (with a cron preview), targets (the
// alert-rule picker: sites, groups incl. dynamic ones, devices, OS), run conditions, ordered
// steps with then/else branches, what happens when a step fails; Run now and the run history
// of a saved automation. A webhook automation's secret is shown once, after it is created.
import { useMemo, useState } from "react";
import { Link, useLocation, useNavigate, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { ApiError, errorMessage } from "../../api/client";
import type { Automation, AutomationRun } from "../../api/types";
import { Badge, Card, CardTitle, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { CopyField } from "../../components/ui/copy";
import { Dialog } from "../../components/ui/dialog";
import { Checkbox, Field, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useGroups, useOrgDevices, useOrgs, useSites } from "../../lib/queries";
import { useAlertRules, useChannels } from "../../lib/alertQueries";
import { useAutomations, useScriptsAll } from "../../lib/automationQueries";
import { ALL_DEVICES, targetsEmpty, targetsFromJson, targetsToJson, type EditTargets } from "../../lib/alerts";
import { cronProblem } from "../../lib/cron";
import { normalizeParams } from "../../lib/scriptParams";
import { browserTimeZone } from "../../lib/timezones";
import { formatDateTime, relativeTime } from "../../lib/format";
import {
  automationErrorTarget,
  newRunConditions,
  newStep,
  newTrigger,
  ON_FAILURE,
  ON_FAILURE_LABELS,
  runActive,
  runConditionsFromJson,
  runConditionsToJson,
  runStatusTone,
  stepsFromJson,
  stepsToJson,
  triggerFromJson,
  triggerToJson,
  validateRunConditions,
  validateSteps,
  type AutomationSection,
  type EditRunConditions,
  type EditStep,
  type EditTrigger,
  type OnFailure,
  type StepErrors,
} from "../../lib/automations";
import { DeleteButton, GeneralCard } from "./EditorParts";
import { TargetsEditor } from "../alerts/ConditionEditor";
import { StepsEditor } from "./StepsEditor";
import { RunConditionsEditor, TriggerEditor, type ConditionErrors, type TriggerErrors } from "./TriggerEditor";
import { useRunNow } from "./AutomationsList";

export default function AutomationEditor() {
  const { id } = useParams();
  const q = useQuery({
    queryKey: ["automations", id],
    queryFn: ({ signal }) => api.GET("/api/v1/automations/{id}", { params: { path: { id: id ?? "" } }, signal }),
    enabled: !!id,
  });
  const scripts = useScriptsAll();
  if ((id && q.isPending) || scripts.isPending) return <Loading />;
  if (id && q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load the automation" />;
  return <Builder key={id ?? "new"} automation={q.data ?? null} />;
}

interface Top {
  name: string;
  description: string;
  org_id: string;
  enabled: boolean;
  on_failure: OnFailure;
  notify_channel_ids: string[];
}
type TopErrors = Partial<Record<Exclude<AutomationSection, "trigger" | "conditions" | "actions">, string>>;

interface ServerErrors {
  top: TopErrors;
  trigger: TriggerErrors;
  conditions: ConditionErrors;
  steps: StepErrors;
}
const NO_ERRORS: ServerErrors = { top: {}, trigger: {}, conditions: {}, steps: new Map() };

/** A server error placed on the input its field path names (else the form's own notice). */
function placeServerError(e: unknown): ServerErrors {
  if (!(e instanceof ApiError && e.field)) return { ...NO_ERRORS, top: { _form: errorMessage(e) } };
  const t = automationErrorTarget(e.field);
  if (t.section === "trigger") return { ...NO_ERRORS, trigger: { [t.input ?? "_"]: e.message } };
  if (t.section === "conditions") return { ...NO_ERRORS, conditions: { [t.input ?? "_"]: e.message } };
  if (t.section === "actions") return { ...NO_ERRORS, steps: new Map([[t.key ?? "", { [t.input ?? "_"]: e.message }]]) };
  return { ...NO_ERRORS, top: { [t.section]: e.message } };
}

function Builder({ automation }: { automation: Automation | null }) {
  const perms = usePerms();
  const scope = useOrgScope();
  const qc = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const orgs = useOrgs();
  const canWrite = perms.can("automations:write");
  const scripts = useScriptsAll();
  const paramsOf = useMemo(() => {
    const byId = new Map((scripts.data ?? []).map((s) => [s.id, normalizeParams(s.parameters)]));
    return (id: string) => byId.get(id) ?? [];
  }, [scripts.data]);
  const zone = browserTimeZone();

  const [top, setTop] = useState<Top>({
    name: automation?.name ?? "",
    description: automation?.description ?? "",
    org_id: automation?.org_id ?? scope.orgId ?? "",
    enabled: automation?.enabled ?? true,
    on_failure: (ON_FAILURE.find((o) => o === automation?.on_failure) ?? "stop") as OnFailure,
    notify_channel_ids: automation?.notify_channel_ids ?? [],
  });
  const [trigger, setTrigger] = useState<EditTrigger>(() => (automation ? triggerFromJson(automation.trigger, zone) : newTrigger(zone)));
  const [targets, setTargets] = useState<EditTargets>(() => (automation ? targetsFromJson(automation.targets) : { ...ALL_DEVICES }));
  const [conds, setConds] = useState<EditRunConditions>(() => (automation ? runConditionsFromJson(automation.conditions, zone) : newRunConditions(zone)));
  const parsedSteps = automation ? stepsFromJson(automation.actions, paramsOf) : null;
  const unreadable = !!automation && !parsedSteps;
  const [steps, setSteps] = useState<EditStep[]>(() => parsedSteps ?? [newStep("run_script")]);
  const [submitted, setSubmitted] = useState(false);
  const [server, setServer] = useState<ServerErrors>(NO_ERRORS);
  const [busy, setBusy] = useState(false);
  // A new webhook automation's secret survives the move to its own page in the history
  // entry's state, and is dropped from there once the dialog closes.
  const location = useLocation();
  const passed = (location.state as { secret?: { id: string; secret: string } } | null)?.secret ?? null;
  const [secret, setShownSecret] = useState<{ id: string; secret: string } | null>(passed);
  const setSecret = (v: { id: string; secret: string } | null) => {
    setShownSecret(v);
    if (!v && passed) navigate(location.pathname, { replace: true, state: null });
  };

  const orgId = top.org_id || null;
  const sites = useSites(orgId);
  const groups = useGroups(orgId);
  const devices = useOrgDevices(orgId);
  const channels = useChannels(orgId);
  const rules = useAlertRules(orgId);
  const automations = useAutomations(orgId);
  const run = useRunNow();

  const local = useMemo(() => {
    const t: TopErrors = {};
    if (!top.name.trim()) t.name = "Name the automation.";
    if (!top.org_id) t.org_id = "Choose an organization.";
    if (targetsEmpty(targets)) t.targets = "Choose at least one site, group, device or OS, or all devices.";
    if (top.on_failure === "notify" && top.notify_channel_ids.length === 0) t.notify_channel_ids = "Choose a channel to notify.";
    const tr: TriggerErrors = {};
    if (trigger.type === "schedule") {
      const p = cronProblem(trigger.cron);
      if (p) tr.cron = p;
    }
    if (trigger.type === "event" && trigger.event === "device.offline" && !(/^\d+$/.test(trigger.minutes.trim()) && Number(trigger.minutes) >= 1)) tr.minutes = "Whole minutes, 1 or more.";
    return { top: t, trigger: tr, conditions: validateRunConditions(conds) as ConditionErrors, steps: validateSteps(steps, paramsOf) };
  }, [top, targets, trigger, conds, steps, paramsOf]);
  const shown = <T extends object>(srv: T, loc: T): T => ({ ...srv, ...(submitted ? loc : {}) });
  const topErrors = shown(server.top, local.top);
  const triggerErrors = shown(server.trigger, local.trigger);
  const condErrors = shown(server.conditions, local.conditions);
  const stepErrors: StepErrors = new Map(server.steps);
  if (submitted) for (const [k, e] of local.steps) stepErrors.set(k, { ...stepErrors.get(k), ...e });

  const setT = <K extends keyof Top>(k: K, v: Top[K]) => {
    setTop((t) => ({ ...t, [k]: v }));
    setServer((s) => ({ ...s, top: { ...s.top, [k]: undefined, _form: undefined } }));
  };
  const clearing =
    <T,>(set: (v: T) => void, part: keyof ServerErrors) =>
    (v: T) => {
      set(v);
      setServer((s) => ({ ...s, [part]: part === "steps" ? new Map() : {}, top: { ...s.top, _form: undefined } }));
    };

  const save = async () => {
    setSubmitted(true);
    if (Object.keys(local.top).length || Object.keys(local.trigger).length || Object.keys(local.conditions).length || local.steps.size) {
      toast("Some fields need attention.", "danger");
      return;
    }
    setBusy(true);
    const body = {
      name: top.name.trim(),
      description: top.description.trim() || null,
      enabled: top.enabled,
      trigger: triggerToJson(trigger),
      targets: targetsToJson(targets),
      conditions: runConditionsToJson(conds),
      actions: stepsToJson(steps, paramsOf),
      on_failure: top.on_failure,
      notify_channel_ids: top.on_failure === "notify" ? top.notify_channel_ids : [],
    };
    try {
      if (automation) {
        const saved = await api.PATCH("/api/v1/automations/{id}", { params: { path: { id: automation.id } }, body });
        if (saved.secret) setSecret({ id: saved.id, secret: saved.secret });
        toast("Automation saved.");
      } else {
        const made = await api.POST("/api/v1/automations", { body: { ...body, org_id: top.org_id } });
        toast("Automation created.");
        navigate(`/automations/${made.id}`, { replace: true, state: made.secret ? { secret: { id: made.id, secret: made.secret } } : null });
      }
      void qc.invalidateQueries({ queryKey: ["automations"] });
      setServer(NO_ERRORS);
    } catch (e) {
      setServer(placeServerError(e));
      toast("The automation was not saved.", "danger");
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!automation) return;
    try {
      await api.DELETE("/api/v1/automations/{id}", { params: { path: { id: automation.id } } });
      void qc.invalidateQueries({ queryKey: ["automations"] });
      toast("Automation deleted.");
      navigate("/automations");
    } catch (e) {
      toast(errorMessage(e), "danger");
    }
  };

  const deviceItems = useMemo(() => (devices.data ?? []).map((d) => ({ id: d.id, name: d.display_name || d.hostname })), [devices.data]);
  const otherAutomations = (automations.data ?? []).filter((a) => a.id !== automation?.id);
  const webhookUrl = (id: string) => `${window.location.origin}/api/v1/automations/${id}/webhook`;

  return (
    <div className="space-y-4">
      <PageHeader
        title={automation ? automation.name : "New automation"}
        description={
          <Link to="/automations" className="text-primary hover:underline">
            ← All automations
          </Link>
        }
        actions={
          <>
            {automation && perms.can("automations:execute") && (
              <Button variant="secondary" loading={run.busy === automation.id} disabled={!automation.enabled} onClick={() => void run.start(automation)}>
                Run now
              </Button>
            )}
            {canWrite && (
              <Button loading={busy} onClick={() => void save()}>
                {automation ? "Save" : "Create automation"}
              </Button>
            )}
            {automation && perms.can("automations:delete") && <DeleteButton what="automation" consequence="It stops running; its past runs are removed with it." onDelete={() => void remove()} />}
          </>
        }
      />
      {topErrors._form && <Notice tone="danger">{topErrors._form}</Notice>}
      <GeneralCard
        values={top}
        errors={topErrors}
        isNew={!automation}
        canSwitch={scope.canSwitch}
        orgs={orgs}
        onChange={setT}
        onOrgChange={(id) => (setT("org_id", id), setT("notify_channel_ids", []), setTargets({ ...ALL_DEVICES }))}
      />
      <Card>
        <CardTitle>Trigger</CardTitle>
        <TriggerEditor
          value={trigger}
          onChange={clearing(setTrigger, "trigger")}
          errors={triggerErrors}
          rules={rules.data ?? []}
          scripts={scripts.data ?? []}
          webhookNote={
            automation?.has_webhook_secret && trigger.type === "webhook" ? (
              <span className="block space-y-2">
                <CopyField label="Webhook URL" value={webhookUrl(automation.id)} />
                <span className="block">Sign each POST with the secret shown at creation: X-Breeze-Signature: sha256=&lt;hex HMAC-SHA256 of the body&gt;, and send X-Breeze-Timestamp (unix seconds).</span>
              </span>
            ) : undefined
          }
        />
      </Card>
      <Card>
        <TargetsEditor value={targets} onChange={clearing(setTargets, "top")} sites={sites.data ?? []} groups={groups.data ?? []} devices={deviceItems} error={topErrors.targets} />
      </Card>
      <Card>
        <CardTitle>Conditions</CardTitle>
        <RunConditionsEditor value={conds} onChange={clearing(setConds, "conditions")} sites={sites.data ?? []} errors={condErrors} />
      </Card>
      <Card>
        <CardTitle>Steps</CardTitle>
        {unreadable && <Notice tone="warn">This automation's stored steps use a form this builder does not show; saving replaces them with what is shown here.</Notice>}
        <StepsEditor steps={steps} onChange={clearing(setSteps, "steps")} choices={{ scripts: scripts.data ?? [], channels: channels.data ?? [], automations: otherAutomations, paramsOf, errors: stepErrors, disabled: !canWrite }} />
      </Card>
      <Card>
        <CardTitle>If a step fails</CardTitle>
        <div className="space-y-3">
          <Field label="On failure" error={topErrors.on_failure} className="sm:w-96">
            {(p) => (
              <Select {...p} value={top.on_failure} onChange={(e) => setT("on_failure", e.target.value as OnFailure)}>
                {ON_FAILURE.map((o) => (
                  <option key={o} value={o}>
                    {ON_FAILURE_LABELS[o]}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          {top.on_failure === "notify" && (
            <fieldset>
              <legend className="mb-1 text-sm font-medium">Notify these channels</legend>
              <div className="flex flex-wrap gap-x-4 gap-y-1">
                {(channels.data ?? []).map((c) => (
                  <Checkbox
                    key={c.id}
                    label={c.name}
                    checked={top.notify_channel_ids.includes(c.id)}
                    onChange={() => setT("notify_channel_ids", top.notify_channel_ids.includes(c.id) ? top.notify_channel_ids.filter((x) => x !== c.id) : [...top.notify_channel_ids, c.id])}
                  />
                ))}
              </div>
              {topErrors.notify_channel_ids && (
                <p role="alert" className="mt-1 text-xs font-medium text-danger">
                  {topErrors.notify_channel_ids}
                </p>
              )}
            </fieldset>
          )}
        </div>
      </Card>
      {automation && <RunHistory automation={automation} />}
      {secret && (
        <Dialog open onClose={() => setSecret(null)} title="Webhook signing secret" footer={<Button onClick={() => setSecret(null)}>I have stored it</Button>}>
          <div className="space-y-3">
            <Notice tone="warn">This is the only time the secret is shown. Store it where the caller can read it.</Notice>
            <CopyField label="Webhook URL" value={webhookUrl(secret.id)} />
            <CopyField label="Signing secret" value={secret.secret} />
            <p className="text-sm text-muted-fg">
              Send <code className="font-mono text-xs">X-Breeze-Signature: sha256=&lt;hex HMAC-SHA256 of the raw body&gt;</code> and <code className="font-mono text-xs">X-Breeze-Timestamp</code> (unix seconds). A
              request more than 5 minutes off, or a signature already seen, is refused.
            </p>
          </div>
        </Dialog>
      )}
    </div>
  );
}

function RunHistory({ automation }: { automation: Automation }) {
  const runs = useQuery({
    queryKey: ["automation-runs", automation.id, "list"],
    queryFn: ({ signal }) => api.GET("/api/v1/automations/{id}/runs", { params: { path: { id: automation.id }, query: { limit: 50 } }, signal }).then((p) => p.data),
    refetchInterval: (q) => (q.state.data?.some((r) => runActive(r.status)) ? 2000 : 10_000),
  });
  return (
    <Card>
      <CardTitle>Run history</CardTitle>
      {runs.isPending ? (
        <Loading label="Loading runs…" />
      ) : runs.isError ? (
        <ErrorState error={runs.error} retry={() => runs.refetch()} title="Could not load runs" />
      ) : runs.data.length === 0 ? (
        <EmptyState title="No runs yet">{automation.trigger && "It runs when its trigger fires, or press Run now."}</EmptyState>
      ) : (
        <RunsTable runs={runs.data} />
      )}
    </Card>
  );
}

export function RunsTable({ runs }: { runs: AutomationRun[] }) {
  return (
    <Table>
      <thead>
        <tr>
          <Th>Started</Th>
          <Th>Status</Th>
          <Th className="hidden sm:table-cell">Trigger</Th>
          <Th className="hidden md:table-cell">Devices</Th>
          <Th className="hidden md:table-cell">Finished</Th>
        </tr>
      </thead>
      <tbody>
        {runs.map((r) => (
          <tr key={r.id}>
            <Td>
              <Link to={`/automation-runs/${r.id}`} className="text-primary hover:underline" title={formatDateTime(r.started_at)}>
                {relativeTime(r.started_at)}
              </Link>
            </Td>
            <Td>
              <Badge tone={runStatusTone(r.status)}>{r.status}</Badge>
            </Td>
            <Td className="hidden sm:table-cell">{r.trigger.type}</Td>
            <Td className="hidden md:table-cell">
              {r.devices_succeeded} ok · {r.devices_failed} failed · {r.devices_skipped} skipped of {r.devices_targeted}
            </Td>
            <Td className="hidden md:table-cell">{r.finished_at ? formatDateTime(r.finished_at) : "—"}</Td>
          </tr>
        ))}
      </tbody>
    </Table>
  );
}
