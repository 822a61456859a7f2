// The organization (and site) a partner technician is working in. Org-scoped users have
// exactly one organization, taken from Me.
import { createContext, useContext, useMemo, useState, type ReactNode } from "react";
import { useSession } from "../auth/session";
import { isPartnerUser } from "../auth/permissions";

interface OrgScope {
  /** Null = all organizations the user can reach. */
  orgId: string | null;
  siteId: string | null;
  canSwitch: boolean;
  setOrg: (id: string | null) => void;
  setSite: (id: string | null) => void;
}

const Ctx = createContext<OrgScope>({ orgId: null, siteId: null, canSwitch: false, setOrg: () => {}, setSite: () => {} });
const KEY = "breeze.scope";

function load(): { orgId: string | null; siteId: string | null } {
  try {
    const v = JSON.parse(localStorage.getItem(KEY) ?? "{}") as { orgId?: string; siteId?: string };
    return { orgId: v.orgId ?? null, siteId: v.siteId ?? null };
  } catch {
    return { orgId: null, siteId: null };
  }
}

export function OrgScopeProvider({ children }: { children: ReactNode }) {
  const { me } = useSession();
  const [sel, setSel] = useState(load);
  const value = useMemo<OrgScope>(() => {
    const save = (v: { orgId: string | null; siteId: string | null }) => {
      localStorage.setItem(KEY, JSON.stringify(v));
      setSel(v);
    };
    if (me && !isPartnerUser(me)) {
      const siteId = sel.siteId && (!me.site_ids || me.site_ids.includes(sel.siteId)) ? sel.siteId : null;
      return {
        orgId: me.org_id ?? null,
        siteId,
        canSwitch: false,
        setOrg: () => {},
        setSite: (id) => save({ orgId: me.org_id ?? null, siteId: id }),
      };
    }
    return {
      orgId: sel.orgId,
      siteId: sel.orgId ? sel.siteId : null,
      canSwitch: true,
      setOrg: (id) => save({ orgId: id, siteId: null }),
      setSite: (id) => save({ orgId: sel.orgId, siteId: id }),
    };
  }, [me, sel]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useOrgScope(): OrgScope {
  return useContext(Ctx);
}
