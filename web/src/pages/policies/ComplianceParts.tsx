// Small compliance displays shared by the policy list and dashboard.
import { Badge } from "../../components/ui/card";
import { cn } from "../../components/ui/cn";
import { complianceLabel, complianceTone, countsView, type Counts } from "../../lib/policies";

const BAR: Record<string, string> = { compliant: "bg-ok", non_compliant: "bg-danger", unknown: "bg-muted-fg/40", error: "bg-warn" };

export function ComplianceBadge({ status }: { status: string }) {
  return <Badge tone={complianceTone(status)}>{complianceLabel(status)}</Badge>;
}

/** A stacked bar of devices by status, with the share compliant in words. */
export function ComplianceBar({ counts, label }: { counts: Counts; label: string }) {
  const v = countsView(counts);
  const words = v.total === 0 ? "No devices targeted" : `${v.percent}% compliant (${counts.compliant} of ${v.total})`;
  return (
    <div className="space-y-1" role="group" aria-label={label}>
      <div className="flex h-2 w-full overflow-hidden rounded bg-muted" aria-hidden>
        {v.segments.map((s) => (
          <div key={s.status} className={cn("h-full", BAR[s.status])} style={{ width: `${s.width}%` }} title={`${complianceLabel(s.status)}: ${s.count}`} />
        ))}
      </div>
      <p className="text-xs text-muted-fg">{words}</p>
    </div>
  );
}
