import { createContext, useCallback, useContext, useMemo, useSyncExternalStore, type ReactNode } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api, tokens } from "../api/instance";
import type { Me, TokenPair } from "../api/types";
import { isPartnerUser, permissionsOf, type Permissions } from "./permissions";

interface Session {
  status: "loading" | "anonymous" | "authenticated" | "error";
  me: Me | null;
  perms: Permissions;
  error: unknown;
  signIn: (pair: TokenPair) => void;
  signOut: () => Promise<void>;
}

const SessionContext = createContext<Session | null>(null);

export function SessionProvider({ children }: { children: ReactNode }) {
  const qc = useQueryClient();
  const hasSession = useSyncExternalStore(
    (fn) => tokens.subscribe(fn),
    () => tokens.hasSession(),
  );
  const meQuery = useQuery({
    queryKey: ["me"],
    queryFn: ({ signal }) => api.GET("/api/v1/auth/me", { signal }),
    enabled: hasSession,
    staleTime: 60_000,
  });

  const signIn = useCallback(
    (pair: TokenPair) => {
      qc.clear();
      tokens.set(pair);
    },
    [qc],
  );
  const signOut = useCallback(async () => {
    const refresh = tokens.getRefresh();
    try {
      await api.POST("/api/v1/auth/logout", { body: refresh ? { refresh_token: refresh } : {} });
    } catch {
      // Signing out locally still happens when the server cannot be reached.
    }
    tokens.clear();
    qc.clear();
  }, [qc]);

  const value = useMemo<Session>(() => {
    const me = hasSession ? (meQuery.data ?? null) : null;
    const status: Session["status"] = !hasSession
      ? "anonymous"
      : meQuery.isError
        ? "error"
        : me
          ? "authenticated"
          : "loading";
    return { status, me, perms: permissionsOf(me), error: meQuery.error, signIn, signOut };
  }, [hasSession, meQuery.data, meQuery.isError, meQuery.error, signIn, signOut]);

  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): Session {
  const s = useContext(SessionContext);
  if (!s) throw new Error("useSession outside SessionProvider");
  return s;
}

/** The signed-in user's permissions. */
export function usePerms(): Permissions {
  return useSession().perms;
}

export { isPartnerUser };
