// The rule builder's conditions and targets editors. Errors arrive per row and input (the
// console's own checks and the server's 422, whose field path fieldTarget() maps here) and
// are shown next to the input they name.
import { useId, useMemo, useState } from "react";
import type { DeviceGroup, Site } from "../../api/types";
import { Button } from "../../components/ui/button";
import { Checkbox, Input, Select } from "../../components/ui/form";
import { cn } from "../../components/ui/cn";
import {
  CUSTOM,
  isCustomMetric,
  METRICS,
  newCondition,
  OPERATOR_LABELS,
  OPERATORS,
  type ConditionKind,
  type EditCondition,
  type EditConditions,
  type EditTargets,
  type Operator,
} from "../../lib/alerts";
import { OS_FILTERS } from "../../lib/devices";

export type RowErrors = Map<number, Partial<Record<string, string>>>;

const KIND_LABELS: Record<ConditionKind, string> = {
  metric: "Metric threshold",
  status: "Device offline",
  no_data: "No data received",
  software: "Software change",
};

function Err({ id, msg }: { id: string; msg?: string }) {
  if (!msg) return null;
  return (
    <p id={id} role="alert" className="mt-1 text-xs font-medium text-danger">
      {msg}
    </p>
  );
}

/** A small labelled input inside a condition row, with its error under it. */
function Part({ label, error, className, children }: { label: string; error?: string; className?: string; children: (p: { id: string; "aria-invalid": boolean; "aria-describedby"?: string }) => React.ReactNode }) {
  const id = useId();
  return (
    <div className={cn("min-w-0", className)}>
      <label htmlFor={id} className="mb-1 block text-xs text-muted-fg">
        {label}
      </label>
      {children({ id, "aria-invalid": !!error, "aria-describedby": error ? `${id}-err` : undefined })}
      <Err id={`${id}-err`} msg={error} />
    </div>
  );
}

function ConditionRow({ c, n, errors, onChange, onRemove }: { c: EditCondition; n: number; errors: Partial<Record<string, string>>; onChange: (c: EditCondition) => void; onRemove?: () => void }) {
  const custom = c.kind === "metric" && isCustomMetric(c.metric);
  return (
    <li className="rounded-md border border-border p-3" aria-label={`Condition ${n}`}>
      <div className="flex flex-wrap items-end gap-2">
        <Part label={`Condition ${n} type`} error={errors.type} className="w-full sm:w-44">
          {(p) => (
            <Select {...p} value={c.kind} onChange={(e) => onChange(newCondition(e.target.value as ConditionKind))}>
              {(Object.keys(KIND_LABELS) as ConditionKind[]).map((k) => (
                <option key={k} value={k}>
                  {KIND_LABELS[k]}
                </option>
              ))}
            </Select>
          )}
        </Part>
        {c.kind === "metric" && (
          <>
            <Part label="Metric" error={custom ? undefined : errors.metric} className="w-[calc(50%-0.25rem)] sm:w-40">
              {(p) => (
                <Select {...p} value={custom ? CUSTOM : c.metric} onChange={(e) => onChange({ ...c, metric: e.target.value === CUSTOM ? "custom." : e.target.value })}>
                  {METRICS.map((m) => (
                    <option key={m.value} value={m.value}>
                      {m.label}
                    </option>
                  ))}
                  <option value={CUSTOM}>Custom metric…</option>
                </Select>
              )}
            </Part>
            {custom && (
              <Part label="Custom metric name" error={errors.metric} className="w-[calc(50%-0.25rem)] sm:w-48">
                {(p) => <Input {...p} value={c.metric} placeholder="custom.app_response_ms" onChange={(e) => onChange({ ...c, metric: e.target.value })} />}
              </Part>
            )}
            <Part label="Operator" error={errors.operator} className="w-20">
              {(p) => (
                <Select {...p} value={c.operator} onChange={(e) => onChange({ ...c, operator: e.target.value as Operator })}>
                  {OPERATORS.map((o) => (
                    <option key={o} value={o} aria-label={o}>
                      {OPERATOR_LABELS[o]}
                    </option>
                  ))}
                </Select>
              )}
            </Part>
            <Part label="Value" error={errors.value} className="w-24">
              {(p) => <Input {...p} inputMode="decimal" value={c.value} onChange={(e) => onChange({ ...c, value: e.target.value })} />}
            </Part>
            <Part label="For (minutes)" error={errors.duration_minutes} className="w-28">
              {(p) => <Input {...p} inputMode="numeric" value={c.duration} placeholder="at once" onChange={(e) => onChange({ ...c, duration: e.target.value })} />}
            </Part>
          </>
        )}
        {(c.kind === "status" || c.kind === "no_data") && (
          <Part label={c.kind === "status" ? "Offline for (minutes)" : "No data for (minutes)"} error={errors.duration_minutes} className="w-40">
            {(p) => <Input {...p} inputMode="numeric" value={c.duration} onChange={(e) => onChange({ ...c, duration: e.target.value })} />}
          </Part>
        )}
        {c.kind === "software" && (
          <>
            <Part label="When software is" error={errors.action} className="w-32">
              {(p) => (
                <Select {...p} value={c.action} onChange={(e) => onChange({ ...c, action: e.target.value as "installed" | "removed" })}>
                  <option value="installed">installed</option>
                  <option value="removed">removed</option>
                </Select>
              )}
            </Part>
            <Part label="Name pattern" error={errors.name_pattern} className="min-w-40 flex-1">
              {(p) => <Input {...p} value={c.pattern} placeholder="Antivirus*" onChange={(e) => onChange({ ...c, pattern: e.target.value })} />}
            </Part>
          </>
        )}
        {onRemove && (
          <Button variant="ghost" size="sm" className="ml-auto h-9" aria-label={`Remove condition ${n}`} onClick={onRemove}>
            ✕
          </Button>
        )}
      </div>
      <Err id={`cond-${n}-err`} msg={errors._} />
    </li>
  );
}

export function ConditionEditor({ value, onChange, errors }: { value: EditConditions; onChange: (c: EditConditions) => void; errors: RowErrors }) {
  const setRow = (i: number, c: EditCondition) => onChange({ ...value, rows: value.rows.map((x, j) => (j === i ? c : x)) });
  return (
    <fieldset className="space-y-2">
      <legend className="mb-1 text-sm font-medium">Conditions</legend>
      {value.rows.length > 1 && (
        <div className="flex items-center gap-2 text-sm">
          Fire when
          <Select aria-label="Combine conditions" className="h-8 w-auto" value={value.match} onChange={(e) => onChange({ ...value, match: e.target.value as EditConditions["match"] })}>
            <option value="all">all</option>
            <option value="any">any</option>
          </Select>
          of these hold:
        </div>
      )}
      <ul className="space-y-2">
        {value.rows.map((c, i) => (
          <ConditionRow
            key={i}
            c={c}
            n={i + 1}
            errors={errors.get(i) ?? {}}
            onChange={(x) => setRow(i, x)}
            onRemove={value.rows.length > 1 ? () => onChange({ ...value, rows: value.rows.filter((_, j) => j !== i) }) : undefined}
          />
        ))}
      </ul>
      <Err id="conds-err" msg={errors.get(-1)?._} />
      <Button size="sm" variant="secondary" onClick={() => onChange({ ...value, rows: [...value.rows, newCondition()] })}>
        Add condition
      </Button>
    </fieldset>
  );
}

function toggle(list: string[], id: string): string[] {
  return list.includes(id) ? list.filter((x) => x !== id) : [...list, id];
}

function CheckList({ legend, items, chosen, onChange, search }: { legend: string; items: Array<{ id: string; name: string }>; chosen: string[]; onChange: (ids: string[]) => void; search?: boolean }) {
  const [q, setQ] = useState("");
  const shown = useMemo(() => (q ? items.filter((i) => i.name.toLowerCase().includes(q.toLowerCase())) : items).slice(0, 200), [items, q]);
  if (items.length === 0) return null;
  return (
    <fieldset className="min-w-0">
      <legend className="mb-1 text-xs font-medium text-muted-fg">
        {legend} {chosen.length > 0 && `(${chosen.length})`}
      </legend>
      {search && items.length > 8 && <Input aria-label={`Search ${legend.toLowerCase()}`} placeholder="Search…" className="mb-1 h-8" value={q} onChange={(e) => setQ(e.target.value)} />}
      <div className="max-h-36 space-y-1 overflow-y-auto rounded-md border border-border p-2">
        {shown.map((i) => (
          <Checkbox key={i.id} className="flex" label={i.name} checked={chosen.includes(i.id)} onChange={() => onChange(toggle(chosen, i.id))} />
        ))}
      </div>
    </fieldset>
  );
}

export function TargetsEditor({
  value,
  onChange,
  sites,
  groups,
  devices,
  error,
}: {
  value: EditTargets;
  onChange: (t: EditTargets) => void;
  sites: Site[];
  groups: DeviceGroup[];
  devices: Array<{ id: string; name: string }>;
  error?: string;
}) {
  const name = useId();
  return (
    <fieldset className="space-y-2" aria-describedby={error ? `${name}-err` : undefined}>
      <legend className="mb-1 text-sm font-medium">Applies to</legend>
      <div className="flex flex-wrap gap-4 text-sm">
        <label className="inline-flex items-center gap-2">
          <input type="radio" name={name} checked={value.all} onChange={() => onChange({ ...value, all: true })} />
          All devices of the organization
        </label>
        <label className="inline-flex items-center gap-2">
          <input type="radio" name={name} checked={!value.all} onChange={() => onChange({ ...value, all: false })} />
          Chosen sites, groups, devices or OS
        </label>
      </div>
      {!value.all && (
        <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
          <CheckList legend="Sites" items={sites} chosen={value.site_ids} onChange={(ids) => onChange({ ...value, site_ids: ids })} />
          <CheckList legend="Groups" items={groups} chosen={value.group_ids} onChange={(ids) => onChange({ ...value, group_ids: ids })} />
          <CheckList legend="Devices" items={devices} chosen={value.device_ids} onChange={(ids) => onChange({ ...value, device_ids: ids })} search />
          <CheckList legend="Operating systems" items={OS_FILTERS.map(([id, name]) => ({ id, name }))} chosen={value.os_types} onChange={(ids) => onChange({ ...value, os_types: ids })} />
        </div>
      )}
      {!value.all && <p className="text-xs text-muted-fg">A device matches when it is in any chosen site, group or device list, and runs a chosen OS (when any is chosen).</p>}
      <Err id={`${name}-err`} msg={error} />
    </fieldset>
  );
}
