// Site time zones are chosen from the IANA list the browser knows (Intl.supportedValuesOf),
// never typed.

type IntlWithValues = typeof Intl & { supportedValuesOf?: (key: "timeZone") => string[] };

/** The IANA time zones to offer, sorted, always with UTC and with `current` when given. */
export function timeZones(current?: string | null, intl: IntlWithValues = Intl): string[] {
  const known = intl.supportedValuesOf?.("timeZone") ?? [];
  const all = new Set<string>([...known, "UTC"]);
  if (current) all.add(current);
  return [...all].sort((a, b) => a.localeCompare(b));
}

/** The browser's own time zone, else UTC. */
export function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}
