import type { Site } from "../../api/types";
import { Button } from "../../components/ui/button";
import { Input, Select } from "../../components/ui/form";
import { emptyCondition, fieldInfo, FIELDS, OP_LABELS, validateRules, type Condition, type Op, type RuleSet, type RuleField } from "../../lib/rules";

export function RuleBuilder({ value, onChange, sites, showErrors }: { value: RuleSet; onChange: (r: RuleSet) => void; sites: Site[]; showErrors: boolean }) {
  const errors = showErrors ? validateRules(value) : new Map<number, string>();
  const setCond = (i: number, c: Condition) => onChange({ ...value, conditions: value.conditions.map((x, j) => (j === i ? c : x)) });
  return (
    <fieldset className="space-y-2">
      <legend className="mb-1 text-sm font-medium">Rules</legend>
      <div className="flex items-center gap-2 text-sm">
        Devices that match
        <Select aria-label="Match" className="h-8 w-auto" value={value.match} onChange={(e) => onChange({ ...value, match: e.target.value as RuleSet["match"] })}>
          <option value="all">all</option>
          <option value="any">any</option>
        </Select>
        of these conditions:
      </div>
      <ul className="space-y-2">
        {value.conditions.map((c, i) => {
          const info = fieldInfo(c.field);
          const choices = c.field === "site_id" ? sites.map((s) => ({ value: s.id, label: s.name })) : info?.choices;
          return (
            <li key={i}>
              <div className="grid grid-cols-[1fr_1fr_1fr_auto] gap-2">
                <Select
                  aria-label={`Condition ${i + 1} field`}
                  value={c.field}
                  onChange={(e) => {
                    const f = fieldInfo(e.target.value);
                    if (f) setCond(i, { field: f.field as RuleField, op: f.ops[0], value: f.choices?.[0]?.value ?? "" });
                  }}
                >
                  {FIELDS.map((f) => (
                    <option key={f.field} value={f.field}>
                      {f.label}
                    </option>
                  ))}
                </Select>
                <Select aria-label={`Condition ${i + 1} operator`} value={c.op} onChange={(e) => setCond(i, { ...c, op: e.target.value as Op })}>
                  {info?.ops.map((op) => (
                    <option key={op} value={op}>
                      {OP_LABELS[op]}
                    </option>
                  ))}
                </Select>
                {choices ? (
                  <Select aria-label={`Condition ${i + 1} value`} value={c.value} onChange={(e) => setCond(i, { ...c, value: e.target.value })} aria-invalid={errors.has(i)}>
                    <option value="">Choose…</option>
                    {choices.map((ch) => (
                      <option key={ch.value} value={ch.value}>
                        {ch.label}
                      </option>
                    ))}
                  </Select>
                ) : (
                  <Input aria-label={`Condition ${i + 1} value`} value={c.value} onChange={(e) => setCond(i, { ...c, value: e.target.value })} aria-invalid={errors.has(i)} />
                )}
                <Button variant="ghost" size="sm" className="h-9" aria-label={`Remove condition ${i + 1}`} onClick={() => onChange({ ...value, conditions: value.conditions.filter((_, j) => j !== i) })}>
                  ✕
                </Button>
              </div>
              {errors.get(i) && (
                <p role="alert" className="mt-1 text-xs font-medium text-danger">
                  {errors.get(i)}
                </p>
              )}
            </li>
          );
        })}
      </ul>
      {errors.get(-1) && (
        <p role="alert" className="text-xs font-medium text-danger">
          {errors.get(-1)}
        </p>
      )}
      <Button size="sm" variant="secondary" onClick={() => onChange({ ...value, conditions: [...value.conditions, emptyCondition()] })}>
        Add condition
      </Button>
    </fieldset>
  );
}
