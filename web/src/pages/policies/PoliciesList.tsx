// Policies: each with its enforcement and its compliance counts (maintained by the server as
// results arrive), linking to the compliance dashboard.
import { Link } from "react-router";
import type { Policy } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { buttonClass } from "../../components/ui/button";
import { EmptyState, ErrorState, Loading } from "../../components/ui/feedback";
import { Table, Td, Th } from "../../components/ui/table";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { usePolicyList } from "../../lib/automationQueries";
import { ComplianceBar } from "./ComplianceParts";

export default function PoliciesList() {
  const perms = usePerms();
  const scope = useOrgScope();
  const list = usePolicyList(scope.orgId);
  const canWrite = perms.can("automations:write");
  const newButton = canWrite && (
    <Link to="/policies/new" className={buttonClass()}>
      New policy
    </Link>
  );
  return (
    <div>
      <PageHeader title="Policies" description="Desired state, checked on the devices by the agent: monitored, warned about, or enforced with a remediation script." actions={newButton} />
      {list.isPending ? (
        <Loading label="Loading policies…" />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} title="Could not load policies" />
      ) : list.data.length === 0 ? (
        <EmptyState title="No policies yet" action={newButton}>
          Say how a machine should be (a package installed, a service running, a setting in a file) and see which devices comply.
        </EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th className="hidden sm:table-cell">Enforcement</Th>
              <Th className="hidden md:table-cell">Rules</Th>
              <Th>Compliance</Th>
              <Th className="hidden sm:table-cell">State</Th>
            </tr>
          </thead>
          <tbody>
            {list.data.map((p) => (
              <Row key={p.id} p={p} />
            ))}
          </tbody>
        </Table>
      )}
    </div>
  );
}

function Row({ p }: { p: Policy }) {
  return (
    <tr>
      <Td>
        <Link to={`/policies/${p.id}`} className="font-medium text-primary hover:underline">
          {p.name}
        </Link>
        {p.description && <div className="text-xs text-muted-fg">{p.description}</div>}
      </Td>
      <Td className="hidden capitalize sm:table-cell">{p.enforcement}</Td>
      <Td className="hidden md:table-cell">
        {p.rules.length} · every {p.check_interval_minutes} min
      </Td>
      <Td className="min-w-48">
        <ComplianceBar counts={p.counts} label={`Compliance of ${p.name}`} />
      </Td>
      <Td className="hidden sm:table-cell">
        <Badge tone={p.enabled ? "ok" : "muted"}>{p.enabled ? "Enabled" : "Disabled"}</Badge>
      </Td>
    </tr>
  );
}
