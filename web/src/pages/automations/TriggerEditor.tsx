// The automation builder's trigger (schedule with a cron preview in the chosen time zone,
// event with its per-event field, webhook, manual) and run conditions (device filters and a
// time window).
import { useMemo } from "react";
import type { Site } from "../../api/types";
import { Checkbox, Field, Input, Select } from "../../components/ui/form";
import { Options } from "../../components/ui/dialog-form";
import { TimeZoneField } from "../../components/TimeZoneField";
import { cronProblem, describeCron, nextRuns } from "../../lib/cron";
import { OS_FILTERS, STATUS_FILTERS, statusLabel } from "../../lib/devices";
import {
  EVENT_LABELS,
  EVENTS,
  ISO_DAYS,
  MISSED,
  MISSED_LABELS,
  TRIGGER_LABELS,
  TRIGGER_TYPES,
  type EditRunConditions,
  type EditTrigger,
  type EventName,
  type Missed,
  type TriggerType,
} from "../../lib/automations";

export type TriggerErrors = Partial<Record<"type" | "cron" | "timezone" | "missed" | "event" | "minutes" | "rule_id" | "script_id" | "_", string>>;

export function TriggerEditor({
  value,
  onChange,
  errors,
  rules,
  scripts,
  webhookNote,
}: {
  value: EditTrigger;
  onChange: (t: EditTrigger) => void;
  errors: TriggerErrors;
  rules: Array<{ id: string; name: string }>;
  scripts: Array<{ id: string; name: string }>;
  webhookNote?: React.ReactNode;
}) {
  const set = <K extends keyof EditTrigger>(k: K, v: EditTrigger[K]) => onChange({ ...value, [k]: v });
  const problem = value.type === "schedule" ? cronProblem(value.cron) : null;
  const upcoming = useMemo(() => (value.type === "schedule" && !problem ? nextRuns(value.cron, value.timezone, new Date(), 3) : []), [value.type, value.cron, value.timezone, problem]);
  return (
    <div className="space-y-3">
      <Field label="Trigger" error={errors.type} className="sm:w-64">
        {(p) => (
          <Select {...p} value={value.type} onChange={(e) => set("type", e.target.value as TriggerType)}>
            {TRIGGER_TYPES.map((t) => (
              <option key={t} value={t}>
                {TRIGGER_LABELS[t]}
              </option>
            ))}
          </Select>
        )}
      </Field>
      {value.type === "schedule" && (
        <>
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Cron expression" hint="minute hour day-of-month month day-of-week" error={errors.cron ?? undefined}>
              {(p) => <Input {...p} className="font-mono" value={value.cron} onChange={(e) => set("cron", e.target.value)} placeholder="*/5 * * * *" />}
            </Field>
            <TimeZoneField value={value.timezone} onChange={(z) => set("timezone", z)} error={errors.timezone} />
          </div>
          <div role="status" aria-label="Schedule preview" className="rounded-md bg-muted px-3 py-2 text-sm">
            {problem ? (
              <span className="text-danger">{problem}</span>
            ) : (
              <>
                <span className="font-medium">{describeCron(value.cron)}</span> in {value.timezone}.
                {upcoming.length > 0 && <span className="text-muted-fg"> Next: {upcoming.join(" · ")} (as this browser reckons it; the server decides).</span>}
              </>
            )}
          </div>
          <Field label="Missed slots" hint="Slots that passed while the server was down." error={errors.missed} className="sm:w-96">
            {(p) => (
              <Select {...p} value={value.missed} onChange={(e) => set("missed", e.target.value as Missed)}>
                {MISSED.map((m) => (
                  <option key={m} value={m}>
                    {MISSED_LABELS[m]}
                  </option>
                ))}
              </Select>
            )}
          </Field>
        </>
      )}
      {value.type === "event" && (
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="Event" error={errors.event}>
            {(p) => (
              <Select {...p} value={value.event} onChange={(e) => set("event", e.target.value as EventName)}>
                {EVENTS.map((e) => (
                  <option key={e} value={e}>
                    {EVENT_LABELS[e]}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          {value.event === "device.offline" && (
            <Field label="Offline for (minutes)" error={errors.minutes}>
              {(p) => <Input {...p} inputMode="numeric" value={value.minutes} onChange={(e) => set("minutes", e.target.value)} />}
            </Field>
          )}
          {value.event === "alert.triggered" && (
            <Field label="Alert rule" error={errors.rule_id}>
              {(p) => (
                <Select {...p} value={value.rule_id} onChange={(e) => set("rule_id", e.target.value)}>
                  <Options items={rules} placeholder="Any rule" />
                </Select>
              )}
            </Field>
          )}
          {value.event === "script.failed" && (
            <Field label="Script" error={errors.script_id}>
              {(p) => (
                <Select {...p} value={value.script_id} onChange={(e) => set("script_id", e.target.value)}>
                  <Options items={scripts} placeholder="Any script" />
                </Select>
              )}
            </Field>
          )}
        </div>
      )}
      {value.type === "webhook" && (
        <p className="text-sm text-muted-fg">
          {webhookNote ?? "A signing secret is made when you create the automation and shown once. Callers POST to its URL with X-Breeze-Signature: sha256=<hex HMAC-SHA256 of the body> and X-Breeze-Timestamp (unix seconds)."}
        </p>
      )}
      {value.type === "manual" && <p className="text-sm text-muted-fg">Runs when someone presses Run now (or another automation starts it).</p>}
      {errors._ && (
        <p role="alert" className="text-xs font-medium text-danger">
          {errors._}
        </p>
      )}
    </div>
  );
}

function toggle<T>(list: T[], v: T): T[] {
  return list.includes(v) ? list.filter((x) => x !== v) : [...list, v];
}

export type ConditionErrors = Partial<Record<"days" | "start" | "end" | "timezone" | "_", string>>;

export function RunConditionsEditor({ value, onChange, sites, errors }: { value: EditRunConditions; onChange: (c: EditRunConditions) => void; sites: Site[]; errors: ConditionErrors }) {
  const w = value.window;
  return (
    <div className="space-y-3">
      <p className="text-sm text-muted-fg">Checked for each targeted device when a run starts; a device that does not match is skipped, with the reason in the run.</p>
      <div className="grid gap-3 sm:grid-cols-2 lg:grid-cols-4">
        <fieldset>
          <legend className="mb-1 text-xs font-medium text-muted-fg">Operating system</legend>
          <div className="space-y-1">
            {OS_FILTERS.map(([id, name]) => (
              <div key={id}>
                <Checkbox label={name} checked={value.os_types.includes(id)} onChange={() => onChange({ ...value, os_types: toggle(value.os_types, id) })} />
              </div>
            ))}
          </div>
        </fieldset>
        <fieldset>
          <legend className="mb-1 text-xs font-medium text-muted-fg">Device status</legend>
          <div className="space-y-1">
            {STATUS_FILTERS.filter((s) => s !== "decommissioned" && s !== "pending").map((s) => (
              <div key={s}>
                <Checkbox label={statusLabel(s)} checked={value.statuses.includes(s)} onChange={() => onChange({ ...value, statuses: toggle(value.statuses, s) })} />
              </div>
            ))}
          </div>
        </fieldset>
        {sites.length > 0 && (
          <fieldset>
            <legend className="mb-1 text-xs font-medium text-muted-fg">Site</legend>
            <div className="max-h-36 space-y-1 overflow-y-auto">
              {sites.map((s) => (
                <div key={s.id}>
                  <Checkbox label={s.name} checked={value.site_ids.includes(s.id)} onChange={() => onChange({ ...value, site_ids: toggle(value.site_ids, s.id) })} />
                </div>
              ))}
            </div>
          </fieldset>
        )}
        <Field label="Has tags" hint="Comma-separated; all must be present.">
          {(p) => <Input {...p} value={value.tags} onChange={(e) => onChange({ ...value, tags: e.target.value })} />}
        </Field>
      </div>
      {w && (
        <div className="space-y-2">
          <Checkbox label="Only within a time window" checked={w.on} onChange={(e) => onChange({ ...value, window: { ...w, on: e.target.checked } })} />
          {w.on && (
            <div className="grid gap-3 sm:grid-cols-[auto_8rem_8rem_1fr]">
              <fieldset>
                <legend className="mb-1 text-sm font-medium">Days</legend>
                <div className="flex flex-wrap gap-2">
                  {ISO_DAYS.map(([d, label]) => (
                    <Checkbox key={d} label={label} checked={w.days.includes(d)} onChange={() => onChange({ ...value, window: { ...w, days: toggle(w.days, d).sort((a, b) => a - b) } })} />
                  ))}
                </div>
                {errors.days && (
                  <p role="alert" className="mt-1 text-xs font-medium text-danger">
                    {errors.days}
                  </p>
                )}
              </fieldset>
              <Field label="From" error={errors.start}>
                {(p) => <Input {...p} type="time" value={w.start} onChange={(e) => onChange({ ...value, window: { ...w, start: e.target.value } })} />}
              </Field>
              <Field label="Until" error={errors.end}>
                {(p) => <Input {...p} type="time" value={w.end} onChange={(e) => onChange({ ...value, window: { ...w, end: e.target.value } })} />}
              </Field>
              <TimeZoneField value={w.timezone} onChange={(z) => onChange({ ...value, window: { ...w, timezone: z } })} error={errors.timezone} />
            </div>
          )}
        </div>
      )}
      {errors._ && (
        <p role="alert" className="text-xs font-medium text-danger">
          {errors._}
        </p>
      )}
    </div>
  );
}
