// The automation builder's ordered steps: each step's own form, move up/down within its list,
// remove, and condition steps holding "then" and "else" lists edited the same way. Errors
// arrive by step path and input (the console's checks and the server's 422 placed by
// stepTarget()) and show under the input they name.
import type { ReactNode } from "react";
import type { Script } from "../../api/types";
import { Button } from "../../components/ui/button";
import { Options } from "../../components/ui/dialog-form";
import { Checkbox, Field, Input, Select, Textarea } from "../../components/ui/form";
import { cn } from "../../components/ui/cn";
import {
  EXIT_OP_LABELS,
  EXIT_OPS,
  insertStep,
  moveStep,
  newStep,
  pathLabel,
  pathText,
  removeStep,
  replaceStep,
  STEP_LABELS,
  STEP_TYPES,
  TEST_LABELS,
  TESTS,
  WAIT_UNITS,
  type Branch,
  type EditStep,
  type ExitOp,
  type ConditionTest,
  type ParamsOf,
  type StepErrors,
  type StepPath,
  type StepType,
  type WaitUnit,
} from "../../lib/automations";
import { initialValues } from "../../lib/scriptParams";
import { ParamForm } from "../scripts/ParamForm";

export interface StepChoices {
  scripts: Script[];
  channels: Array<{ id: string; name: string }>;
  /** Automations a run_automation step may start (this one left out). */
  automations: Array<{ id: string; name: string }>;
  paramsOf: ParamsOf;
  errors: StepErrors;
  disabled?: boolean;
}

function Err({ msg }: { msg?: string }) {
  if (!msg) return null;
  return (
    <p role="alert" className="mt-1 text-xs font-medium text-danger">
      {msg}
    </p>
  );
}

export function StepsEditor({ steps, onChange, choices }: { steps: EditStep[]; onChange: (s: EditStep[]) => void; choices: StepChoices }) {
  return (
    <div className="space-y-2">
      <StepList root={steps} onRoot={onChange} list={steps} listPath={[]} choices={choices} />
      <Err msg={choices.errors.get("")?._} />
    </div>
  );
}

interface ListProps {
  root: EditStep[];
  onRoot: (s: EditStep[]) => void;
  list: EditStep[];
  listPath: StepPath;
  choices: StepChoices;
}

/** "Step 3" at the top level, "Step 2 → then → 1" inside a branch. */
const stepName = (path: StepPath) => `Step ${pathLabel(pathText(path))}`;

function StepList({ root, onRoot, list, listPath, choices }: ListProps) {
  const where = listPath.length ? ` to ${stepName(listPath.slice(0, -1))} ${listPath[listPath.length - 1]}` : "";
  return (
    <div className="space-y-2">
      {list.length > 0 && (
        <ol className="space-y-2">
          {list.map((s, i) => (
            <StepCard key={s.key} step={s} path={[...listPath, i]} last={i === list.length - 1} root={root} onRoot={onRoot} choices={choices} />
          ))}
        </ol>
      )}
      {!choices.disabled && (
        <Button size="sm" variant="secondary" aria-label={`Add step${where}`} onClick={() => onRoot(insertStep(root, listPath, newStep("run_script")))}>
          Add step
        </Button>
      )}
    </div>
  );
}

function StepCard({ step, path, last, root, onRoot, choices }: { step: EditStep; path: StepPath; last: boolean } & Omit<ListProps, "list" | "listPath">) {
  const name = stepName(path);
  const errors = choices.errors.get(pathText(path)) ?? {};
  const set = (s: EditStep) => onRoot(replaceStep(root, path, s));
  const index = path[path.length - 1] as number;
  const dis = choices.disabled;
  return (
    <li className={cn("rounded-md border border-border bg-card p-3", step.type === "condition" && "border-primary/40")} aria-label={name}>
      <div className="flex flex-wrap items-end gap-2">
        <span className="pb-2 text-xs font-semibold text-muted-fg">{pathLabel(pathText(path))}</span>
        <Field label={`${name} type`} className="w-full sm:w-56" error={errors.type}>
          {(p) => (
            <Select {...p} value={step.type} disabled={dis} onChange={(e) => set({ ...newStep(e.target.value as StepType), key: step.key })}>
              {STEP_TYPES.map((t) => (
                <option key={t} value={t}>
                  {STEP_LABELS[t]}
                </option>
              ))}
            </Select>
          )}
        </Field>
        {!dis && (
          <div className="ml-auto flex gap-1 pb-0.5">
            <Button size="sm" variant="ghost" aria-label={`Move ${name} up`} disabled={index === 0} onClick={() => onRoot(moveStep(root, path, -1))}>
              ↑
            </Button>
            <Button size="sm" variant="ghost" aria-label={`Move ${name} down`} disabled={last} onClick={() => onRoot(moveStep(root, path, 1))}>
              ↓
            </Button>
            <Button size="sm" variant="ghost" aria-label={`Remove ${name}`} onClick={() => onRoot(removeStep(root, path))}>
              ✕
            </Button>
          </div>
        )}
      </div>
      <div className="mt-3">
        <StepForm step={step} name={name} errors={errors} set={set} choices={choices} />
      </div>
      {step.type === "condition" && (
        <div className="mt-3 grid gap-3 lg:grid-cols-2">
          {(["then", "else"] as Branch[]).map((b) => (
            <Branch key={b} label={b === "then" ? "Then" : "Else"} name={`${name} ${b}`}>
              <StepList root={root} onRoot={onRoot} list={step[b]} listPath={[...path, b]} choices={choices} />
            </Branch>
          ))}
        </div>
      )}
      <Err msg={errors._} />
    </li>
  );
}

function Branch({ label, name, children }: { label: string; name: string; children: ReactNode }) {
  return (
    <section aria-label={name} className="rounded-md border border-dashed border-border p-2">
      <h4 className="mb-2 text-xs font-semibold uppercase tracking-wider text-muted-fg">{label}</h4>
      {children}
    </section>
  );
}

function StepForm({ step, name, errors, set, choices }: { step: EditStep; name: string; errors: Partial<Record<string, string>>; set: (s: EditStep) => void; choices: StepChoices }) {
  const dis = choices.disabled;
  switch (step.type) {
    case "run_script": {
      const params = choices.paramsOf(step.script_id);
      const paramErrors = Object.fromEntries(
        Object.entries(errors)
          .filter(([k, v]) => k.startsWith("parameters.") && v)
          .map(([k, v]) => [k.slice("parameters.".length), v as string]),
      );
      return (
        <div className="space-y-3">
          <div className="grid gap-3 sm:grid-cols-[2fr_1fr]">
            <Field label={`${name} script`} error={errors.script_id}>
              {(p) => (
                <Select {...p} value={step.script_id} disabled={dis} onChange={(e) => set({ ...step, script_id: e.target.value, parameters: initialValues(choices.paramsOf(e.target.value)) })}>
                  <Options items={choices.scripts} placeholder="Choose a script…" />
                </Select>
              )}
            </Field>
            <Field label="Timeout (seconds)" hint="Empty: the script's own." error={errors.timeout_seconds}>
              {(p) => <Input {...p} inputMode="numeric" value={step.timeout} disabled={dis} onChange={(e) => set({ ...step, timeout: e.target.value })} />}
            </Field>
          </div>
          {step.script_id && <ParamForm params={params} values={step.parameters} errors={paramErrors} onChange={(v) => set({ ...step, parameters: v })} />}
          {errors.parameters && <Err msg={errors.parameters} />}
        </div>
      );
    }
    case "notify":
      return (
        <div className="space-y-3">
          <fieldset>
            <legend className="mb-1 text-sm font-medium">Channels</legend>
            {choices.channels.length === 0 ? (
              <p className="text-sm text-muted-fg">No notification channel in this organization yet.</p>
            ) : (
              <div className="flex flex-wrap gap-x-4 gap-y-1">
                {choices.channels.map((c) => (
                  <Checkbox
                    key={c.id}
                    label={c.name}
                    disabled={dis}
                    checked={step.channel_ids.includes(c.id)}
                    onChange={() => set({ ...step, channel_ids: step.channel_ids.includes(c.id) ? step.channel_ids.filter((x) => x !== c.id) : [...step.channel_ids, c.id] })}
                  />
                ))}
              </div>
            )}
            <Err msg={errors.channel_ids} />
          </fieldset>
          <Field label={`${name} message`} error={errors.message}>
            {(p) => <Textarea {...p} rows={2} value={step.message} disabled={dis} onChange={(e) => set({ ...step, message: e.target.value })} />}
          </Field>
        </div>
      );
    case "update_device":
      return (
        <div className="grid gap-3 sm:grid-cols-3">
          <Field label="Add tags" hint="Comma-separated" error={errors.tags_add}>
            {(p) => <Input {...p} value={step.tags_add} disabled={dis} onChange={(e) => set({ ...step, tags_add: e.target.value })} />}
          </Field>
          <Field label="Remove tags" hint="Comma-separated" error={errors.tags_remove}>
            {(p) => <Input {...p} value={step.tags_remove} disabled={dis} onChange={(e) => set({ ...step, tags_remove: e.target.value })} />}
          </Field>
          <Field label="Rename to" hint="Empty: keep the name" error={errors.display_name}>
            {(p) => <Input {...p} value={step.display_name} disabled={dis} onChange={(e) => set({ ...step, display_name: e.target.value })} />}
          </Field>
        </div>
      );
    case "run_automation":
      return (
        <Field label={`${name} automation`} hint="Runs on the same device; nesting stops at depth 3 and a cycle fails the step." error={errors.automation_id}>
          {(p) => (
            <Select {...p} value={step.automation_id} disabled={dis} onChange={(e) => set({ ...step, automation_id: e.target.value })}>
              <Options items={choices.automations} placeholder="Choose an automation…" />
            </Select>
          )}
        </Field>
      );
    case "wait":
      return (
        <div className="flex flex-wrap items-start gap-2">
          <Field label={`${name} wait for`} className="w-32" error={errors.seconds}>
            {(p) => <Input {...p} inputMode="numeric" value={step.amount} disabled={dis} onChange={(e) => set({ ...step, amount: e.target.value })} />}
          </Field>
          <Field label="Unit" className="w-32">
            {(p) => (
              <Select {...p} value={step.unit} disabled={dis} onChange={(e) => set({ ...step, unit: e.target.value as WaitUnit })}>
                {WAIT_UNITS.map(([u]) => (
                  <option key={u} value={u}>
                    {u}
                  </option>
                ))}
              </Select>
            )}
          </Field>
        </div>
      );
    case "condition":
      return (
        <div className="flex flex-wrap items-start gap-2">
          <Field label={`${name} test`} className="w-full sm:w-72">
            {(p) => (
              <Select {...p} value={step.test} disabled={dis} onChange={(e) => set({ ...step, test: e.target.value as ConditionTest, value: e.target.value === "exit_code" ? "0" : "" })}>
                {TESTS.map((t) => (
                  <option key={t} value={t}>
                    {TEST_LABELS[t]}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          {step.test === "exit_code" && (
            <Field label="Comparison" className="w-24">
              {(p) => (
                <Select {...p} value={step.op} disabled={dis} onChange={(e) => set({ ...step, op: e.target.value as ExitOp })}>
                  {EXIT_OPS.map((o) => (
                    <option key={o} value={o}>
                      {EXIT_OP_LABELS[o]}
                    </option>
                  ))}
                </Select>
              )}
            </Field>
          )}
          <Field label={step.test === "exit_code" ? `${name} exit code` : `${name} text`} className={step.test === "exit_code" ? "w-28" : "min-w-48 flex-1"} error={errors.if}>
            {(p) => <Input {...p} inputMode={step.test === "exit_code" ? "numeric" : undefined} value={step.value} disabled={dis} onChange={(e) => set({ ...step, value: e.target.value })} />}
          </Field>
        </div>
      );
  }
}
