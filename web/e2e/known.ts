// Defects the run finds that are known and being fixed elsewhere (issue 9). By default every
// check is strict and a known defect fails the run like any other. With
// E2E_KNOWN_BUGS=<id>,<id> (or `all`) a failing check of a listed defect is recorded instead,
// the error answers that defect causes are expected, and the list is printed at the end, so
// the rest of the run still proves what it can. A listed defect whose check passes is
// reported too, so the switch is removed once the fix lands.
import type { Expected, Session } from "./driver";

export const KNOWN_BUGS = {
  "key-form": "New enrollment key form sends `expires_at`; the server wants `expires_in_hours` and answers 422 (types helper)",
  "key-uses": "Enrollment key list: the Uses column reads `use_count`, the API sends `uses` (types helper)",
  "users-page": "Users page asks for `sort=name` and the server answers 422, so the list never loads (types helper)",
  "hardware-updated": "Hardware tab reads `updated_at` from the wrong place and shows “Updated —” (types helper)",
  "network-tab": "Network tab reads the hardware answer instead of /network and says “not reported yet” (types helper)",
  "disks-tab": "Disks tab reads the hardware answer instead of /disks and says “not reported yet” (types helper)",
  "metrics-ranges": "Metrics ranges ask for resolutions `1m`/`6h` the server does not know: 422 and an error state (types helper)",
  "metrics-empty":
    "Metrics: a range answered from rollups has no chart for a new device (no 5m/1h bucket yet although raw samples exist), or the chart draws isolated dots (types helper: the 24 h chart; no owner for rollup-only ranges)",
  "dynamic-group-count": "Device groups list: a dynamic group's device count (`member_count`) counts only static memberships, so a group whose rule matches shows 0 devices (found by this run; no owner yet)",
} as const;
export type BugId = keyof typeof KNOWN_BUGS;

const setting = (process.env.E2E_KNOWN_BUGS ?? "")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);
for (const id of setting) if (id !== "all" && !(id in KNOWN_BUGS)) throw new Error(`E2E_KNOWN_BUGS: unknown id ${id} (known: ${Object.keys(KNOWN_BUGS).join(", ")})`);

export function tolerated(id: BugId): boolean {
  return setting.includes("all") || setting.includes(id);
}

/** The error answers a known defect causes, when E2E_KNOWN_BUGS tolerates it (else none). */
export function expectedFor(id: BugId, list: Omit<Expected, "why">[]): Expected[] {
  return tolerated(id) ? list.map((e) => ({ ...e, why: `known defect ${id}` })) : [];
}

const hit = new Map<BugId, string[]>();
const passed = new Set<BugId>();

/**
 * Runs a check that a known defect makes fail. Strict unless E2E_KNOWN_BUGS names the
 * defect; then its failure (and the error answers listed) are recorded and the run goes on.
 * Answers whether the check passed.
 */
export async function check(s: Session, id: BugId, expected: Omit<Expected, "why">[], fn: () => Promise<void>): Promise<boolean> {
  if (!tolerated(id)) {
    try {
      await fn();
      return true;
    } catch (e) {
      throw new Error(`${e instanceof Error ? e.message : String(e)}\n     (known defect ${id}: ${KNOWN_BUGS[id]}; E2E_KNOWN_BUGS=${id} records it and goes on)`);
    }
  }
  try {
    await s.expecting(expectedFor(id, expected), fn);
    passed.add(id);
    return true;
  } catch (e) {
    const list = hit.get(id) ?? [];
    list.push((e instanceof Error ? e.message : String(e)).split("\n")[0]);
    hit.set(id, list);
    console.log(`KNOWN ${id}: ${list[list.length - 1]}`);
    return false;
  }
}

/** Whether a check of this defect failed (and was recorded) in this run. */
export function failed(id: BugId): boolean {
  return hit.has(id);
}

/** Prints what the known defects kept from being proved; answers how many checks that was. */
export function report(): number {
  let n = 0;
  if (hit.size) {
    console.log(`\nTODO: ${[...hit.values()].reduce((a, l) => a + l.length, 0)} check(s) failed only because of known defects (E2E_KNOWN_BUGS=${setting.join(",")}):`);
    for (const [id, list] of hit) {
      console.log(`  ${id}: ${KNOWN_BUGS[id]}`);
      for (const m of list) console.log(`    - ${m}`);
      n += list.length;
    }
  }
  const fixed = [...passed].filter((id) => !hit.has(id));
  if (fixed.length) console.log(`\nThese known defects no longer reproduce; drop them from E2E_KNOWN_BUGS: ${fixed.join(", ")}`);
  return n;
}
