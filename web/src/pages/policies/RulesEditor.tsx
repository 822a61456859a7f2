// A policy's rules: one row per rule with its type and that type's fields, errors under the
// input they name (the console's checks and the server's 422 `rules[2].path`).
import { Button } from "../../components/ui/button";
import { Options } from "../../components/ui/dialog-form";
import { Field, Input, Select, Textarea } from "../../components/ui/form";
import { changeRuleType, newRule, RULE_TYPES, RULES, type EditRule, type RuleErrors, type RuleType } from "../../lib/policies";

export function RulesEditor({ value, onChange, errors, scripts }: { value: EditRule[]; onChange: (r: EditRule[]) => void; errors: RuleErrors; scripts: Array<{ id: string; name: string }> }) {
  const setRow = (i: number, r: EditRule) => onChange(value.map((x, j) => (j === i ? r : x)));
  return (
    <div className="space-y-2">
      <ol className="space-y-2">
        {value.map((r, i) => {
          const e = errors.get(i) ?? {};
          const n = i + 1;
          return (
            <li key={r.key} className="rounded-md border border-border p-3" aria-label={`Rule ${n}`}>
              <div className="flex flex-wrap items-start gap-2">
                <Field label={`Rule ${n} type`} className="w-full sm:w-56" error={e.type}>
                  {(p) => (
                    <Select {...p} value={r.type} onChange={(ev) => setRow(i, changeRuleType(r, ev.target.value as RuleType))}>
                      {RULE_TYPES.map((t) => (
                        <option key={t} value={t}>
                          {RULES[t].label}
                        </option>
                      ))}
                    </Select>
                  )}
                </Field>
                {RULES[r.type].fields.map((f) => (
                  <Field key={f.key} label={`${f.label}${f.required ? "" : " (optional)"}`} className={f.kind === "multiline" ? "w-full" : "min-w-40 flex-1"} error={e[f.key]}>
                    {(p) =>
                      f.kind === "script" ? (
                        <Select {...p} value={r.values[f.key] ?? ""} onChange={(ev) => setRow(i, { ...r, values: { ...r.values, [f.key]: ev.target.value } })}>
                          <Options items={scripts} placeholder="Choose a script…" />
                        </Select>
                      ) : f.kind === "multiline" ? (
                        <Textarea {...p} rows={2} className="font-mono" value={r.values[f.key] ?? ""} onChange={(ev) => setRow(i, { ...r, values: { ...r.values, [f.key]: ev.target.value } })} />
                      ) : (
                        <Input {...p} placeholder={f.placeholder} value={r.values[f.key] ?? ""} onChange={(ev) => setRow(i, { ...r, values: { ...r.values, [f.key]: ev.target.value } })} />
                      )
                    }
                  </Field>
                ))}
                {RULES[r.type].fields.length === 0 && <p className="self-end pb-2 text-sm text-muted-fg">No settings: the agent checks it as it can, and says “unknown” when it cannot tell.</p>}
                <Button variant="ghost" size="sm" className="ml-auto mt-6 h-9" aria-label={`Remove rule ${n}`} onClick={() => onChange(value.filter((_, j) => j !== i))}>
                  ✕
                </Button>
              </div>
              {e._ && (
                <p role="alert" className="mt-1 text-xs font-medium text-danger">
                  {e._}
                </p>
              )}
            </li>
          );
        })}
      </ol>
      {errors.get(-1)?._ && (
        <p role="alert" className="text-xs font-medium text-danger">
          {errors.get(-1)?._}
        </p>
      )}
      <Button size="sm" variant="secondary" onClick={() => onChange([...value, newRule()])}>
        Add rule
      </Button>
    </div>
  );
}
