// A schedule trigger's cron expression in the console: parsed for a readable summary and a
// preview of the next times it fires in the automation's time zone. The server's
// breeze_core::cron is the judge of what is valid and of when a slot really fires; this is a
// preview computed by the browser (same five fields, same ranges).

export interface CronFields {
  minute: number[];
  hour: number[];
  day: number[];
  month: number[];
  /** 0 = Sunday … 6 = Saturday (7 is read as Sunday). */
  weekday: number[];
  /** Day-of-month and day-of-week both restricted: a day matches when either does (Vixie cron). */
  dayOr: boolean;
}

const FIELDS = [
  { name: "minute", min: 0, max: 59 },
  { name: "hour", min: 0, max: 23 },
  { name: "day of month", min: 1, max: 31 },
  { name: "month", min: 1, max: 12 },
  { name: "day of week", min: 0, max: 7 },
] as const;

const MONTHS = ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
const DAYS = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
const MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November", "December"];
export const DAY_NAMES = ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"];

export class CronError extends Error {}

function value(s: string, field: number): number {
  const lower = s.toLowerCase();
  if (field === 3 && MONTHS.includes(lower)) return MONTHS.indexOf(lower) + 1;
  if (field === 4 && DAYS.includes(lower)) return DAYS.indexOf(lower);
  if (!/^\d+$/.test(s)) throw new CronError(`“${s}” is not a number in the ${FIELDS[field].name} field.`);
  const n = Number(s);
  const f = FIELDS[field];
  if (n < f.min || n > f.max) throw new CronError(`${n} is outside ${f.min}–${f.max} in the ${f.name} field.`);
  return n;
}

function parseField(text: string, field: number): number[] {
  const f = FIELDS[field];
  const out = new Set<number>();
  for (const part of text.split(",")) {
    const [range, stepText] = part.split("/");
    if (part.split("/").length > 2 || range === "") throw new CronError(`“${part}” is not valid in the ${f.name} field.`);
    let step = 1;
    if (stepText !== undefined) {
      if (!/^\d+$/.test(stepText) || Number(stepText) === 0) throw new CronError(`“/${stepText}” is not a valid step in the ${f.name} field.`);
      step = Number(stepText);
    }
    let lo: number, hi: number;
    if (range === "*") [lo, hi] = [f.min, field === 4 ? 6 : f.max];
    else if (range.includes("-")) {
      const [a, b, ...rest] = range.split("-");
      if (rest.length) throw new CronError(`“${range}” is not a valid range in the ${f.name} field.`);
      [lo, hi] = [value(a, field), value(b, field)];
      if (lo > hi) throw new CronError(`${range} runs backwards in the ${f.name} field.`);
    } else {
      lo = value(range, field);
      hi = stepText !== undefined ? (field === 4 ? 6 : f.max) : lo;
    }
    for (let v = lo; v <= hi; v += step) out.add(field === 4 && v === 7 ? 0 : v);
  }
  return [...out].sort((a, b) => a - b);
}

/** The five fields of `expr`, or a CronError saying which field is wrong. */
export function parseCron(expr: string): CronFields {
  const parts = expr.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== 5) throw new CronError(`A cron expression has 5 fields (minute hour day month weekday); this has ${parts.length}.`);
  const [minute, hour, day, month, weekday] = parts.map(parseField);
  return { minute, hour, day, month, weekday, dayOr: parts[2] !== "*" && parts[4] !== "*" };
}

/** The problem with `expr` in words, or null when it parses. */
export function cronProblem(expr: string): string | null {
  try {
    parseCron(expr);
    return null;
  } catch (e) {
    return e instanceof CronError ? e.message : String(e);
  }
}

const pad = (n: number) => String(n).padStart(2, "0");
const isAll = (list: number[], min: number, max: number) => list.length === max - min + 1;

function listText(list: number[], name: (n: number) => string): string {
  const names = list.map(name);
  return names.length <= 1 ? names.join("") : `${names.slice(0, -1).join(", ")} and ${names[names.length - 1]}`;
}

/** Evenly spaced from the field's start (`*\/n`): n, else null. */
function stepOf(list: number[], min: number, max: number): number | null {
  if (list.length < 2 || list[0] !== min) return null;
  const step = list[1] - list[0];
  for (let i = 1; i < list.length; i++) if (list[i] - list[i - 1] !== step) return null;
  return list[list.length - 1] + step > max ? step : null;
}

/** A sentence for a cron expression ("Every 5 minutes", "At 02:30 on Monday and Friday"). */
export function describeCron(expr: string): string {
  let c: CronFields;
  try {
    c = parseCron(expr);
  } catch {
    return `Cron “${expr.trim()}”`;
  }
  let when: string;
  const everyMinute = isAll(c.minute, 0, 59);
  const minuteStep = stepOf(c.minute, 0, 59);
  const allHours = isAll(c.hour, 0, 23);
  if (everyMinute && allHours) when = "Every minute";
  else if (minuteStep && allHours) when = `Every ${minuteStep} minutes`;
  else if (c.minute.length === 1 && allHours) when = c.minute[0] === 0 ? "Every hour" : `Every hour at ${c.minute[0]} minutes past`;
  else if (c.minute.length === 1 && stepOf(c.hour, 0, 23)) when = `Every ${stepOf(c.hour, 0, 23)} hours at ${c.minute[0]} minutes past`;
  else if (c.minute.length * c.hour.length <= 4) when = `At ${listText(c.hour.flatMap((h) => c.minute.map((m) => h * 60 + m)).sort((a, b) => a - b), (t) => `${pad(Math.floor(t / 60))}:${pad(t % 60)}`)}`;
  else when = `At minute ${listText(c.minute, String)} past hour ${listText(c.hour, String)}`;

  const days: string[] = [];
  if (!isAll(c.day, 1, 31)) days.push(`on day ${listText(c.day, String)} of the month`);
  const weekdays = c.weekday;
  if (weekdays.length < 7) {
    if (weekdays.join() === "1,2,3,4,5") days.push("on weekdays");
    else if (weekdays.join() === "0,6") days.push("at weekends");
    else days.push(`on ${listText(weekdays, (d) => DAY_NAMES[d])}`);
  }
  const daysText = days.join(c.dayOr ? " or " : " and ");
  const months = isAll(c.month, 1, 12) ? "" : `in ${listText(c.month, (m) => MONTH_NAMES[m - 1])}`;
  return [when, daysText, months].filter(Boolean).join(" ");
}

interface Wall {
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: number;
  text: string;
}

function wallClock(timeZone: string): (t: number) => Wall {
  const fmt = new Intl.DateTimeFormat("en-US", {
    timeZone,
    hourCycle: "h23",
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    minute: "numeric",
    weekday: "short",
  });
  return (t) => {
    const p: Record<string, string> = {};
    for (const x of fmt.formatToParts(new Date(t))) p[x.type] = x.value;
    const hour = Number(p.hour) % 24;
    return {
      month: Number(p.month),
      day: Number(p.day),
      hour,
      minute: Number(p.minute),
      weekday: DAYS.indexOf(p.weekday.toLowerCase().slice(0, 3)),
      text: `${p.year}-${pad(Number(p.month))}-${pad(Number(p.day))} ${pad(hour)}:${p.minute}`,
    };
  };
}

function dayMatches(c: CronFields, w: Wall): boolean {
  const dom = c.day.includes(w.day);
  const dow = c.weekday.includes(w.weekday);
  return c.dayOr ? dom || dow : dom && dow;
}

/**
 * The next `n` times `expr` fires after `from` in `timeZone`, as local wall-clock text
 * ("2026-03-29 03:30"). A local time that does not exist (spring forward) is skipped and one
 * that occurs twice (fall back) fires once, the first time. Empty when it does not parse.
 */
export function nextRuns(expr: string, timeZone: string, from: Date, n = 3): string[] {
  let c: CronFields;
  let wall: (t: number) => Wall;
  try {
    c = parseCron(expr);
    wall = wallClock(timeZone);
  } catch {
    return [];
  }
  const MIN = 60_000;
  const out: string[] = [];
  const seen = new Set<string>();
  let t = Math.floor(from.getTime() / MIN) * MIN + MIN;
  // Eight years covers the rarest valid expression (29 February, across a skipped leap year).
  const end = t + 8 * 366 * 24 * 60 * MIN;
  while (out.length < n && t < end) {
    const w = wall(t);
    if (!c.month.includes(w.month) || !dayMatches(c, w)) {
      // To 23:00 of the same local day (a DST change moves that by at most an hour), then by hours.
      const toLateEvening = (23 - w.hour) * 60 - w.minute;
      t += (toLateEvening > 0 ? toLateEvening : 60 - w.minute) * MIN;
      continue;
    }
    if (!c.hour.includes(w.hour)) {
      t += (60 - w.minute) * MIN;
      continue;
    }
    if (c.minute.includes(w.minute) && !seen.has(w.text)) {
      seen.add(w.text);
      out.push(w.text);
    }
    t += MIN;
  }
  return out;
}
