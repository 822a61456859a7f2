// Escalation policies: an ordered ladder of steps, each `delay_minutes` after the alert was
// raised, notifying channels and e-mailing users and role holders, climbed while the alert
// stays unacknowledged.
import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { ApiError, errorMessage } from "../../api/client";
import type { EscalationPolicy, NotificationChannel } from "../../api/types";
import { PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions, DialogForm, Options } from "../../components/ui/dialog-form";
import { Checkbox, Field, Input, Select, Textarea } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useOrgs, useRoles } from "../../lib/queries";
import { useChannels, usePolicies } from "../../lib/alertQueries";
import { NoOrgsNotice } from "../../components/NoOrgsNotice";

export default function EscalationPolicies() {
  const perms = usePerms();
  const scope = useOrgScope();
  const policies = usePolicies(scope.orgId);
  const channels = useChannels(scope.orgId);
  const [editing, setEditing] = useState<EscalationPolicy | "new" | null>(null);
  const canWrite = perms.can("alerts:write");
  const channelName = (id: string) => channels.data?.find((c) => c.id === id)?.name ?? "a channel";
  return (
    <div>
      <PageHeader
        title="Escalation policies"
        description="Who hears of an alert nobody has acknowledged, and when. The ladder stops as soon as someone acknowledges or resolves it."
        actions={canWrite && <Button onClick={() => setEditing("new")}>New policy</Button>}
      />
      {policies.isPending ? (
        <Loading label="Loading policies…" />
      ) : policies.isError ? (
        <ErrorState error={policies.error} retry={() => policies.refetch()} title="Could not load escalation policies" />
      ) : policies.data.length === 0 ? (
        <EmptyState title="No escalation policies" action={canWrite && <Button onClick={() => setEditing("new")}>Create a policy</Button>}>
          For example: the on-call channel at once, the team lead after 15 minutes, the manager after 30.
        </EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>Steps</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {policies.data.map((p) => (
              <tr key={p.id}>
                <Td>
                  <span className="font-medium">{p.name}</span>
                  {p.description && <div className="text-xs text-muted-fg">{p.description}</div>}
                </Td>
                <Td>
                  <ol className="space-y-0.5 text-xs">
                    {p.steps.map((s, i) => (
                      <li key={i}>
                        <span className="font-medium">{s.delay_minutes === 0 ? "At once" : `After ${s.delay_minutes} min`}:</span>{" "}
                        {[
                          ...(s.channels ?? []).map(channelName),
                          (s.targets?.user_ids?.length ?? 0) > 0 && `${s.targets?.user_ids?.length} user(s)`,
                          (s.targets?.role_ids?.length ?? 0) > 0 && `${s.targets?.role_ids?.length} role(s)`,
                        ]
                          .filter(Boolean)
                          .join(", ") || "nobody"}
                      </li>
                    ))}
                  </ol>
                </Td>
                <Td className="text-right">
                  {canWrite && (
                    <Button size="sm" variant="ghost" onClick={() => setEditing(p)} aria-label={`Edit ${p.name}`}>
                      Edit
                    </Button>
                  )}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {editing && <PolicyDialog policy={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
    </div>
  );
}

interface StepForm {
  delay: string;
  channels: string[];
  users: string[];
  roles: string[];
}

function toggle(list: string[], id: string): string[] {
  return list.includes(id) ? list.filter((x) => x !== id) : [...list, id];
}

function StepEditor({
  n,
  step,
  count,
  onChange,
  onMove,
  onRemove,
  channels,
  users,
  roles,
  error,
}: {
  n: number;
  step: StepForm;
  count: number;
  onChange: (s: StepForm) => void;
  onMove: (dir: -1 | 1) => void;
  onRemove: () => void;
  channels: NotificationChannel[];
  users: Array<{ id: string; name: string }>;
  roles: Array<{ id: string; name: string }>;
  error?: string;
}) {
  return (
    <li className="rounded-md border border-border p-3" aria-label={`Step ${n}`}>
      <div className="mb-2 flex items-end gap-2">
        <Field label={`Step ${n}: after (minutes)`} error={error} className="w-44">
          {(p) => <Input {...p} inputMode="numeric" value={step.delay} onChange={(e) => onChange({ ...step, delay: e.target.value })} />}
        </Field>
        <div className="ml-auto flex gap-1">
          <Button size="sm" variant="ghost" aria-label={`Move step ${n} up`} disabled={n === 1} onClick={() => onMove(-1)}>
            ↑
          </Button>
          <Button size="sm" variant="ghost" aria-label={`Move step ${n} down`} disabled={n === count} onClick={() => onMove(1)}>
            ↓
          </Button>
          <Button size="sm" variant="ghost" aria-label={`Remove step ${n}`} disabled={count === 1} onClick={onRemove}>
            ✕
          </Button>
        </div>
      </div>
      <div className="grid gap-3 sm:grid-cols-3">
        {[
          { legend: "Channels", items: channels.map((c) => ({ id: c.id, name: c.name })), chosen: step.channels, key: "channels" as const, none: "No channel in this organization." },
          { legend: "Users (e-mailed)", items: users, chosen: step.users, key: "users" as const, none: "No user listed." },
          { legend: "Roles (e-mailed)", items: roles, chosen: step.roles, key: "roles" as const, none: "No role listed." },
        ].map((g) => (
          <fieldset key={g.key} className="min-w-0">
            <legend className="mb-1 text-xs font-medium text-muted-fg">
              {g.legend} {g.chosen.length > 0 && `(${g.chosen.length})`}
            </legend>
            {g.items.length === 0 ? (
              <p className="text-xs text-muted-fg">{g.none}</p>
            ) : (
              <div className="max-h-32 space-y-1 overflow-y-auto rounded-md border border-border p-2">
                {g.items.map((i) => (
                  <Checkbox key={i.id} className="flex" label={i.name} checked={g.chosen.includes(i.id)} onChange={() => onChange({ ...step, [g.key]: toggle(g.chosen, i.id) })} />
                ))}
              </div>
            )}
          </fieldset>
        ))}
      </div>
    </li>
  );
}

function PolicyDialog({ policy, onClose }: { policy: EscalationPolicy | null; onClose: () => void }) {
  const scope = useOrgScope();
  const perms = usePerms();
  const orgs = useOrgs();
  const roles = useRoles();
  const qc = useQueryClient();
  const toast = useToast();
  const [name, setName] = useState(policy?.name ?? "");
  const [description, setDescription] = useState(policy?.description ?? "");
  const [orgId, setOrgId] = useState(policy?.org_id ?? scope.orgId ?? "");
  const [steps, setSteps] = useState<StepForm[]>(() =>
    policy?.steps.length
      ? policy.steps.map((s) => ({ delay: String(s.delay_minutes), channels: s.channels ?? [], users: s.targets?.user_ids ?? [], roles: s.targets?.role_ids ?? [] }))
      : [{ delay: "0", channels: [], users: [], roles: [] }],
  );
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const channels = useChannels(orgId || null);
  const users = useQuery({
    queryKey: ["users", "names"],
    queryFn: ({ signal }) => api.GET("/api/v1/users", { params: { query: { limit: 500 } }, signal }),
    enabled: perms.can("users:read"),
    staleTime: 300_000,
  });
  const userItems = (users.data?.data ?? []).filter((u) => !u.org_id || u.org_id === orgId).map((u) => ({ id: u.id, name: u.name || u.email }));
  const roleItems = (roles.data ?? []).map((r) => ({ id: r.id, name: r.name }));

  const setStep = (i: number, s: StepForm) => {
    setSteps((all) => all.map((x, j) => (j === i ? s : x)));
    setErrors({});
  };
  const move = (i: number, dir: -1 | 1) =>
    setSteps((all) => {
      const next = [...all];
      [next[i], next[i + dir]] = [next[i + dir], next[i]];
      return next;
    });

  const submit = async () => {
    const errs: Record<string, string> = {};
    if (!name.trim()) errs.name = "Name the policy.";
    if (!policy && !orgId) errs.org_id = "Choose an organization.";
    steps.forEach((s, i) => {
      if (!/^\d+$/.test(s.delay.trim())) errs[`steps[${i}]`] = "Whole minutes, 0 or more.";
      else if (i > 0 && Number(s.delay) < Number(steps[i - 1].delay)) errs[`steps[${i}]`] = "A later step cannot come sooner than the one before.";
    });
    if (Object.keys(errs).length) return setErrors(errs);
    setBusy(true);
    const body = {
      name: name.trim(),
      description: description.trim() || null,
      steps: steps.map((s) => ({ delay_minutes: Number(s.delay), channels: s.channels, targets: { user_ids: s.users, role_ids: s.roles } })),
    };
    try {
      if (policy) await api.PATCH("/api/v1/escalation-policies/{id}", { params: { path: { id: policy.id } }, body });
      else await api.POST("/api/v1/escalation-policies", { body: { ...body, org_id: orgId, description: body.description ?? undefined } });
      void qc.invalidateQueries({ queryKey: ["escalation-policies"] });
      toast(policy ? "Policy saved." : "Policy created.");
      onClose();
    } catch (e) {
      const f = e instanceof ApiError ? e.field : null;
      const stepIdx = f ? /^steps\[(\d+)\]/.exec(f)?.[1] : undefined;
      if (f && stepIdx !== undefined) setErrors({ [`steps[${stepIdx}]`]: errorMessage(e) });
      else if (f === "name" || f === "org_id" || f === "description") setErrors({ [f]: errorMessage(e) });
      else setErrors({ _form: errorMessage(e) });
    } finally {
      setBusy(false);
    }
  };
  const remove = async () => {
    if (!policy) return;
    try {
      await api.DELETE("/api/v1/escalation-policies/{id}", { params: { path: { id: policy.id } } });
      void qc.invalidateQueries({ queryKey: ["escalation-policies"] });
      toast("Policy deleted.");
      onClose();
    } catch (e) {
      setErrors({ _form: errorMessage(e) });
    }
  };

  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title={policy ? `Edit ${policy.name}` : "New escalation policy"}
      footer={<DialogActions onCancel={onClose} onSubmit={() => void submit()} busy={busy} submitLabel={policy ? "Save" : "Create"} onDelete={policy ? () => void remove() : undefined} />}
    >
      <DialogForm onSubmit={() => void submit()}>
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Name" error={errors.name}>
            {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} autoFocus />}
          </Field>
          {!policy && scope.canSwitch && (
            <Field label="Organization" error={errors.org_id}>
              {(p) => (
                <Select {...p} value={orgId} onChange={(e) => (setOrgId(e.target.value), setSteps((all) => all.map((s) => ({ ...s, channels: [], users: [] }))))}>
                  <Options items={orgs.data} />
                </Select>
              )}
            </Field>
          )}
        </div>
        {!policy && scope.canSwitch && <NoOrgsNotice orgs={orgs} />}
        <Field label="Description (optional)" error={errors.description}>
          {(p) => <Textarea {...p} rows={2} value={description} onChange={(e) => setDescription(e.target.value)} />}
        </Field>
        <fieldset>
          <legend className="mb-1 text-sm font-medium">Steps, in order</legend>
          <ol className="space-y-2">
            {steps.map((s, i) => (
              <StepEditor
                key={i}
                n={i + 1}
                step={s}
                count={steps.length}
                onChange={(x) => setStep(i, x)}
                onMove={(dir) => move(i, dir)}
                onRemove={() => setSteps((all) => all.filter((_, j) => j !== i))}
                channels={channels.data ?? []}
                users={userItems}
                roles={roleItems}
                error={errors[`steps[${i}]`]}
              />
            ))}
          </ol>
          <Button
            size="sm"
            variant="secondary"
            className="mt-2"
            onClick={() => setSteps((all) => [...all, { delay: String(Number(all[all.length - 1]?.delay ?? 0) + 15), channels: [], users: [], roles: [] }])}
          >
            Add step
          </Button>
        </fieldset>
        {errors._form && <Notice tone="danger">{errors._form}</Notice>}
      </DialogForm>
    </Dialog>
  );
}
