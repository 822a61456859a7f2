// A site's time zone, chosen from the IANA zones the browser knows (plus the current value,
// should the browser not list it).
import { useMemo } from "react";
import { Field, Select } from "./ui/form";
import { timeZones } from "../lib/timezones";

export function TimeZoneField({ value, onChange, error, hint }: { value: string; onChange: (v: string) => void; error?: string; hint?: string }) {
  const zones = useMemo(() => timeZones(value), [value]);
  return (
    <Field label="Time zone" error={error} hint={hint}>
      {(p) => (
        <Select {...p} value={value} onChange={(e) => onChange(e.target.value)}>
          {zones.map((z) => (
            <option key={z} value={z}>
              {z}
            </option>
          ))}
        </Select>
      )}
    </Field>
  );
}
