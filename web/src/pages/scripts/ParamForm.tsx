import type { ScriptParameter } from "../../api/types";
import { Checkbox, Field, Input, Select } from "../../components/ui/form";
import type { ParamValues } from "../../lib/scriptParams";

export function ParamForm({ params, values, errors, onChange }: { params: ScriptParameter[]; values: ParamValues; errors: Record<string, string>; onChange: (v: ParamValues) => void }) {
  if (params.length === 0) return <p className="text-sm text-muted-fg">This script takes no parameters.</p>;
  const set = (k: string, v: string | boolean) => onChange({ ...values, [k]: v });
  return (
    <div className="grid gap-3 sm:grid-cols-2">
      {params.map((p) => {
        const label = `${p.label || p.name}${p.required ? " *" : ""}`;
        if (p.type === "boolean")
          return <Checkbox key={p.name} label={label} checked={!!values[p.name]} onChange={(e) => set(p.name, e.target.checked)} className="self-end pb-2" />;
        return (
          <Field key={p.name} label={label} hint={p.description ?? undefined} error={errors[p.name]}>
            {(fp) =>
              p.type === "select" && p.options ? (
                <Select {...fp} value={String(values[p.name] ?? "")} onChange={(e) => set(p.name, e.target.value)}>
                  <option value="">Choose…</option>
                  {p.options.map((o) => (
                    <option key={o} value={o}>
                      {o}
                    </option>
                  ))}
                </Select>
              ) : (
                <Input {...fp} type={p.type === "number" ? "number" : "text"} value={String(values[p.name] ?? "")} onChange={(e) => set(p.name, e.target.value)} />
              )
            }
          </Field>
        );
      })}
    </div>
  );
}
