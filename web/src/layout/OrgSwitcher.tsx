import { Options } from "../components/ui/dialog-form";
import { useOrgScope } from "../lib/scope";
import { useOrgs, useSites } from "../lib/queries";
import { useSession } from "../auth/session";

/** Partner staff pick the organization (and site) they work in; org users see their org. */
export function OrgSwitcher() {
  const { me, perms } = useSession();
  const scope = useOrgScope();
  const orgs = useOrgs();
  const sites = useSites(scope.orgId);
  const orgName = orgs.data?.find((o) => o.id === scope.orgId)?.name;

  return (
    <div className="flex min-w-0 items-center gap-2">
      {scope.canSwitch ? (
        <>
          <label htmlFor="org-switch" className="sr-only">
            Organization
          </label>
          <select
            id="org-switch"
            className="h-8 max-w-44 rounded-md border border-input bg-card px-2 text-sm sm:max-w-60"
            value={scope.orgId ?? ""}
            onChange={(e) => scope.setOrg(e.target.value || null)}
          >
            <Options items={orgs.data} placeholder="All organizations" />
          </select>
        </>
      ) : (
        <span className="truncate text-sm font-medium">{orgName ?? (me?.scope_level === "organization" ? "Your organization" : "")}</span>
      )}
      {scope.orgId && perms.can("sites:read") && (sites.data?.length ?? 0) > 0 && (
        <>
          <label htmlFor="site-switch" className="sr-only">
            Site
          </label>
          <select
            id="site-switch"
            className="hidden h-8 max-w-44 rounded-md border border-input bg-card px-2 text-sm sm:block"
            value={scope.siteId ?? ""}
            onChange={(e) => scope.setSite(e.target.value || null)}
          >
            <option value="">All sites</option>
            {sites.data
              ?.filter((s) => !me?.site_ids || me.site_ids.includes(s.id))
              .map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
          </select>
        </>
      )}
    </div>
  );
}
