// The policy editor: name and organization, enforcement, targets (sites, groups incl. dynamic
// ones, devices, OS), check interval, the rules with each type's fields, and the remediation
// script for enforce mode. A server 422 lands on the input it names (`rules[2].path`).
import { useMemo, useState } from "react";
import { Link, useNavigate, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { ApiError, errorMessage } from "../../api/client";
import type { Policy } from "../../api/types";
import { Card, CardTitle, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Options } from "../../components/ui/dialog-form";
import { Field, Input, Select } from "../../components/ui/form";
import { ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useGroups, useOrgDevices, useOrgs, useSites } from "../../lib/queries";
import { useScriptsAll } from "../../lib/automationQueries";
import { ALL_DEVICES, targetsEmpty, targetsFromJson, targetsToJson, type EditTargets } from "../../lib/alerts";
import { ENFORCEMENT_LABELS, ENFORCEMENTS, newRule, ruleTarget, rulesFromJson, rulesToJson, validateRules, type EditRule, type Enforcement, type RuleErrors } from "../../lib/policies";
import { DeleteButton, GeneralCard } from "../automations/EditorParts";
import { TargetsEditor } from "../alerts/ConditionEditor";
import { RulesEditor } from "./RulesEditor";

export default function PolicyEditor() {
  const { id } = useParams();
  const q = useQuery({
    queryKey: ["policies", id],
    queryFn: ({ signal }) => api.GET("/api/v1/policies/{id}", { params: { path: { id: id ?? "" } }, signal }),
    enabled: !!id,
  });
  if (id && q.isPending) return <Loading />;
  if (id && q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} title="Could not load the policy" />;
  return <Editor key={id ?? "new"} policy={q.data ?? null} />;
}

interface Top {
  name: string;
  description: string;
  org_id: string;
  enabled: boolean;
  enforcement: Enforcement;
  interval: string;
  remediation: string;
  attempts: string;
}
type TopErrors = Partial<Record<keyof Top | "targets" | "_form", string>>;

/** Server field names → the form field they are shown on. */
const FIELD_OF: Record<string, keyof Top | "targets"> = {
  name: "name",
  description: "description",
  org_id: "org_id",
  enabled: "enabled",
  enforcement: "enforcement",
  check_interval_minutes: "interval",
  remediation_script_id: "remediation",
  remediation_max_attempts: "attempts",
  targets: "targets",
};

function placeServerError(e: unknown): { top: TopErrors; rules: RuleErrors } {
  const rules: RuleErrors = new Map();
  if (e instanceof ApiError && e.field) {
    const r = ruleTarget(e.field);
    if (r) return { top: {}, rules: new Map([[r.row, { [r.input]: e.message }]]) };
    const f = FIELD_OF[/^([a-z_]+)/.exec(e.field)?.[1] ?? ""];
    if (f) return { top: { [f]: e.message }, rules };
  }
  return { top: { _form: errorMessage(e) }, rules };
}

const whole = (s: string, lo: number, hi: number) => /^\d+$/.test(s.trim()) && Number(s) >= lo && Number(s) <= hi;

function Editor({ policy }: { policy: Policy | null }) {
  const perms = usePerms();
  const scope = useOrgScope();
  const qc = useQueryClient();
  const toast = useToast();
  const navigate = useNavigate();
  const orgs = useOrgs();
  const scripts = useScriptsAll();
  const [top, setTop] = useState<Top>({
    name: policy?.name ?? "",
    description: policy?.description ?? "",
    org_id: policy?.org_id ?? scope.orgId ?? "",
    enabled: policy?.enabled ?? true,
    enforcement: policy?.enforcement ?? "monitor",
    interval: String(policy?.check_interval_minutes ?? 60),
    remediation: policy?.remediation_script_id ?? "",
    attempts: String(policy?.remediation_max_attempts ?? 3),
  });
  const parsed = policy ? rulesFromJson(policy.rules) : null;
  const [rules, setRules] = useState<EditRule[]>(() => parsed ?? [newRule()]);
  const [targets, setTargets] = useState<EditTargets>(() => (policy ? targetsFromJson(policy.targets) : { ...ALL_DEVICES }));
  const [submitted, setSubmitted] = useState(false);
  const [server, setServer] = useState<{ top: TopErrors; rules: RuleErrors }>({ top: {}, rules: new Map() });
  const [busy, setBusy] = useState(false);
  const orgId = top.org_id || null;
  const sites = useSites(orgId);
  const groups = useGroups(orgId);
  const devices = useOrgDevices(orgId);

  const local = useMemo(() => {
    const t: TopErrors = {};
    if (!top.name.trim()) t.name = "Name the policy.";
    if (!top.org_id) t.org_id = "Choose an organization.";
    if (targetsEmpty(targets)) t.targets = "Choose at least one site, group, device or OS, or all devices.";
    if (!whole(top.interval, 5, 10080)) t.interval = "Whole minutes, 5 to 10080.";
    if (top.enforcement === "enforce" && !top.remediation) t.remediation = "Enforce mode needs a remediation script.";
    if (!whole(top.attempts, 1, 20)) t.attempts = "1 to 20.";
    return { top: t, rules: validateRules(rules) };
  }, [top, targets, rules]);
  const topErrors: TopErrors = { ...server.top, ...(submitted ? local.top : {}) };
  const ruleErrors: RuleErrors = new Map(server.rules);
  if (submitted) for (const [i, e] of local.rules) ruleErrors.set(i, { ...ruleErrors.get(i), ...e });

  const set = <K extends keyof Top>(k: K, v: Top[K]) => {
    setTop((t) => ({ ...t, [k]: v }));
    setServer((s) => ({ ...s, top: { ...s.top, [k]: undefined, _form: undefined } }));
  };

  const save = async () => {
    setSubmitted(true);
    if (Object.keys(local.top).length || local.rules.size) return;
    setBusy(true);
    const body = {
      name: top.name.trim(),
      description: top.description.trim() || null,
      enabled: top.enabled,
      enforcement: top.enforcement,
      targets: targetsToJson(targets),
      check_interval_minutes: Number(top.interval),
      // The editor's JSON: the server checks each rule's fields and names a bad one.
      rules: rulesToJson(rules) as Policy["rules"],
      remediation_script_id: top.remediation || null,
      remediation_max_attempts: Number(top.attempts),
    };
    try {
      if (policy) {
        await api.PATCH("/api/v1/policies/{id}", { params: { path: { id: policy.id } }, body });
        toast("Policy saved.");
        void qc.invalidateQueries({ queryKey: ["policies"] });
        void qc.invalidateQueries({ queryKey: ["policy-compliance", policy.id] });
        navigate(`/policies/${policy.id}`);
      } else {
        const made = await api.POST("/api/v1/policies", { body: { ...body, org_id: top.org_id } });
        toast("Policy created.");
        void qc.invalidateQueries({ queryKey: ["policies"] });
        navigate(`/policies/${made.id}`, { replace: true });
      }
    } catch (e) {
      setServer(placeServerError(e));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!policy) return;
    try {
      await api.DELETE("/api/v1/policies/{id}", { params: { path: { id: policy.id } } });
      void qc.invalidateQueries({ queryKey: ["policies"] });
      toast("Policy deleted.");
      navigate("/policies");
    } catch (e) {
      toast(errorMessage(e), "danger");
    }
  };

  const deviceItems = useMemo(() => (devices.data ?? []).map((d) => ({ id: d.id, name: d.display_name || d.hostname })), [devices.data]);
  const scriptItems = scripts.data ?? [];
  return (
    <div className="space-y-4">
      <PageHeader
        title={policy ? `Edit ${policy.name}` : "New policy"}
        description={
          <Link to={policy ? `/policies/${policy.id}` : "/policies"} className="text-primary hover:underline">
            ← {policy ? "Compliance" : "All policies"}
          </Link>
        }
        actions={
          <>
            <Button loading={busy} onClick={() => void save()}>
              {policy ? "Save" : "Create policy"}
            </Button>
            {policy && perms.can("automations:delete") && <DeleteButton what="policy" consequence="Its compliance results and history are removed with it." onDelete={() => void remove()} />}
          </>
        }
      />
      {topErrors._form && <Notice tone="danger">{topErrors._form}</Notice>}
      <GeneralCard values={top} errors={topErrors} isNew={!policy} canSwitch={scope.canSwitch} orgs={orgs} onChange={set} onOrgChange={(id) => (set("org_id", id), setTargets({ ...ALL_DEVICES }))}>
        <div className="grid gap-3 sm:grid-cols-[2fr_1fr]">
          <Field label="Enforcement" error={topErrors.enforcement}>
            {(p) => (
              <Select {...p} value={top.enforcement} onChange={(e) => set("enforcement", e.target.value as Enforcement)}>
                {ENFORCEMENTS.map((x) => (
                  <option key={x} value={x}>
                    {ENFORCEMENT_LABELS[x]}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          <Field label="Check every (minutes)" error={topErrors.interval}>
            {(p) => <Input {...p} inputMode="numeric" value={top.interval} onChange={(e) => set("interval", e.target.value)} />}
          </Field>
        </div>
      </GeneralCard>
      <Card>
        <TargetsEditor
          value={targets}
          onChange={(t) => (setTargets(t), setServer((s) => ({ ...s, top: { ...s.top, targets: undefined } })))}
          sites={sites.data ?? []}
          groups={groups.data ?? []}
          devices={deviceItems}
          error={topErrors.targets}
        />
      </Card>
      <Card>
        <CardTitle>Rules</CardTitle>
        {policy && !parsed && <Notice tone="warn">A stored rule has a type this editor does not know; saving replaces the rules with what is shown here.</Notice>}
        <RulesEditor value={rules} onChange={(r) => (setRules(r), setServer((s) => ({ ...s, rules: new Map() })))} errors={ruleErrors} scripts={scriptItems} />
      </Card>
      <Card>
        <CardTitle>Remediation</CardTitle>
        <div className="grid gap-3 sm:grid-cols-[2fr_1fr]">
          <Field label="Remediation script" hint="Runs on a non-compliant device in enforce mode; the device is checked again after it." error={topErrors.remediation}>
            {(p) => (
              <Select {...p} value={top.remediation} onChange={(e) => set("remediation", e.target.value)}>
                <Options items={scriptItems} placeholder="None" />
              </Select>
            )}
          </Field>
          <Field label="Attempts per device" hint="Until it is compliant again." error={topErrors.attempts}>
            {(p) => <Input {...p} inputMode="numeric" value={top.attempts} onChange={(e) => set("attempts", e.target.value)} />}
          </Field>
        </div>
      </Card>
    </div>
  );
}
