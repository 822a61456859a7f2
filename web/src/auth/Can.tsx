import type { ReactNode } from "react";
import { usePerms } from "./session";
import type { Perm } from "./permissions";

/** Renders its children only when the user holds `perm` (or any of `anyOf`). */
export function Can({ perm, anyOf, children, fallback = null }: { perm?: Perm; anyOf?: Perm[]; children: ReactNode; fallback?: ReactNode }) {
  const perms = usePerms();
  const ok = (perm ? perms.can(perm) : true) && (anyOf ? perms.canAny(...anyOf) : true);
  return <>{ok ? children : fallback}</>;
}
