import { useState } from "react";
import { NavLink, Outlet, useNavigate } from "react-router";
import { useSession } from "../auth/session";
import { visibleNav, type NavItem } from "../auth/permissions";
import { Logo } from "./Logo";
import { OrgSwitcher } from "./OrgSwitcher";
import { setTheme, useTheme } from "../lib/theme";
import { cn } from "../components/ui/cn";
import { useLiveEvents } from "../live/events";
import { openCount, useAlertCounts } from "../lib/alertQueries";
import { useOrgScope } from "../lib/scope";

/** The open-alert count beside "Alerts" (hidden at zero). */
function AlertsBadge() {
  const scope = useOrgScope();
  const counts = useAlertCounts(scope.orgId);
  const n = counts.data ? openCount(counts.data) : 0;
  if (!n) return null;
  return (
    <>
      <span aria-hidden className="ml-auto rounded-full bg-danger px-1.5 text-[11px] font-semibold leading-5 text-danger-fg">
        {n > 999 ? "999+" : n}
      </span>
      <span className="sr-only">({n} open)</span>
    </>
  );
}

const GROUP_LABEL: Record<NavItem["group"], string> = { main: "Monitor", manage: "Manage", admin: "Administration" };

function Sidebar({ onNavigate }: { onNavigate?: () => void }) {
  const { perms } = useSession();
  const items = visibleNav(perms);
  const groups = (["main", "manage", "admin"] as const).map((g) => ({ g, items: items.filter((i) => i.group === g) }));
  return (
    <nav aria-label="Main" className="flex flex-col gap-5 px-3 py-4">
      {groups
        .filter((x) => x.items.length)
        .map(({ g, items }) => (
          <div key={g}>
            <p className="px-2 pb-1 text-[11px] font-semibold uppercase tracking-wider text-muted-fg">{GROUP_LABEL[g]}</p>
            <ul className="space-y-0.5">
              {items.map((i) => (
                <li key={i.to}>
                  <NavLink
                    to={i.to}
                    end={i.to === "/"}
                    onClick={onNavigate}
                    className={({ isActive }) =>
                      cn("flex items-center gap-2 rounded-md px-2 py-1.5 text-sm", isActive ? "bg-primary/10 font-semibold text-primary" : "text-fg hover:bg-muted")
                    }
                  >
                    {i.label}
                    {i.badge === "alerts" && <AlertsBadge />}
                  </NavLink>
                </li>
              ))}
            </ul>
          </div>
        ))}
    </nav>
  );
}

export function AppShell() {
  const { me, signOut } = useSession();
  const theme = useTheme();
  const navigate = useNavigate();
  const [menuOpen, setMenuOpen] = useState(false);
  const live = useLiveEvents();

  return (
    <div className="flex h-full">
      <aside className="hidden w-56 shrink-0 flex-col border-r border-border bg-sidebar lg:flex">
        <div className="flex h-14 items-center border-b border-border px-4">
          <Logo />
        </div>
        <div className="flex-1 overflow-y-auto">
          <Sidebar />
        </div>
      </aside>
      {menuOpen && (
        <div className="fixed inset-0 z-40 lg:hidden" role="dialog" aria-modal="true" aria-label="Menu" onKeyDown={(e) => e.key === "Escape" && setMenuOpen(false)}>
          <div aria-hidden className="absolute inset-0 bg-black/50" onClick={() => setMenuOpen(false)} />
          <div className="absolute inset-y-0 left-0 w-64 overflow-y-auto bg-sidebar shadow-xl">
            <div className="flex h-14 items-center justify-between border-b border-border px-4">
              <Logo />
              <button type="button" className="rounded-md p-2 hover:bg-muted" aria-label="Close menu" onClick={() => setMenuOpen(false)} autoFocus>
                ✕
              </button>
            </div>
            <Sidebar onNavigate={() => setMenuOpen(false)} />
          </div>
        </div>
      )}
      <div className="flex min-w-0 flex-1 flex-col">
        <header className="flex h-14 shrink-0 items-center gap-2 border-b border-border bg-card px-3 sm:px-4">
          <button type="button" className="rounded-md p-2 hover:bg-muted lg:hidden" aria-label="Open menu" onClick={() => setMenuOpen(true)}>
            ☰
          </button>
          <OrgSwitcher />
          <div className="ml-auto flex items-center gap-1 sm:gap-2">
            <span
              className={cn("hidden items-center gap-1.5 text-xs text-muted-fg sm:inline-flex")}
              title={live === "open" ? "Live updates connected" : "Live updates reconnecting"}
            >
              <span className={cn("size-2 rounded-full", live === "open" ? "bg-ok" : "bg-warn")} aria-hidden />
              {live === "open" ? "Live" : live === "connecting" ? "Connecting…" : "Reconnecting…"}
            </span>
            <button
              type="button"
              className="rounded-md px-2 py-1.5 text-sm hover:bg-muted"
              onClick={() => setTheme(theme === "dark" ? "light" : "dark")}
              aria-label={theme === "dark" ? "Switch to light theme" : "Switch to dark theme"}
            >
              {theme === "dark" ? "☀" : "☾"}
            </button>
            <span className="hidden max-w-48 truncate text-sm md:inline" title={me?.user.email}>
              {me?.user.name}
            </span>
            <button
              type="button"
              className="rounded-md border border-border px-2.5 py-1.5 text-sm hover:bg-muted"
              onClick={async () => {
                await signOut();
                navigate("/login", { replace: true });
              }}
            >
              Sign out
            </button>
          </div>
        </header>
        <main id="main" className="min-w-0 flex-1 overflow-y-auto px-3 py-5 sm:px-6">
          <Outlet />
        </main>
      </div>
    </div>
  );
}
