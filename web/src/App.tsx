import { lazy, Suspense, type ReactNode } from "react";
import { BrowserRouter, Navigate, Route, Routes, useLocation } from "react-router";
import { QueryClientProvider, useQuery } from "@tanstack/react-query";
import { api, queryClient } from "./api/instance";
import { SessionProvider, useSession } from "./auth/session";
import { OrgScopeProvider } from "./lib/scope";
import { ToastProvider, useToast } from "./components/ui/toast";
import { ErrorState, Loading } from "./components/ui/feedback";
import { AppShell } from "./layout/AppShell";
import { LoginPage } from "./pages/auth/Login";
import { SetupPage } from "./pages/auth/Setup";
import { AcceptInvitePage, ForgotPasswordPage, ResetPasswordPage } from "./pages/auth/Password";
const DashboardPage = lazy(() => import("./pages/Dashboard"));
import { NotFoundPage } from "./pages/NotFound";
import type { Perm } from "./auth/permissions";
import { useIdleSignOut } from "./auth/idle";

// Heavier screens load on demand so the sign-in page stays small.
// The device list is the console's main screen and is in the entry bundle: as a lazy
// chunk it cost a round trip plus React's ~300 ms Suspense reveal throttle on every cold
// load (measured with bench/ui.sh; see BENCHMARKS.md).
import DevicesPage from "./pages/devices/DevicesList";
const DeviceDetailPage = lazy(() => import("./pages/devices/DeviceDetail"));
const ScriptsPage = lazy(() => import("./pages/scripts/ScriptsList"));
const ScriptEditorPage = lazy(() => import("./pages/scripts/ScriptEditor"));
const EnrollmentKeysPage = lazy(() => import("./pages/admin/EnrollmentKeys"));
const DeviceGroupsPage = lazy(() => import("./pages/admin/DeviceGroups"));
const OrgsPage = lazy(() => import("./pages/admin/Orgs"));
const UsersPage = lazy(() => import("./pages/admin/Users"));
const RolesPage = lazy(() => import("./pages/admin/Roles"));
const AuditPage = lazy(() => import("./pages/admin/Audit"));
const SettingsPage = lazy(() => import("./pages/admin/Settings"));
const AlertsInboxPage = lazy(() => import("./pages/alerts/AlertsInbox"));
const AlertRulesPage = lazy(() => import("./pages/alerts/AlertRules"));
const NotificationChannelsPage = lazy(() => import("./pages/alerts/NotificationChannels"));
const EscalationPoliciesPage = lazy(() => import("./pages/alerts/EscalationPolicies"));
const AutomationsPage = lazy(() => import("./pages/automations/AutomationsList"));
const AutomationEditorPage = lazy(() => import("./pages/automations/AutomationEditor"));
const AutomationRunPage = lazy(() => import("./pages/automations/AutomationRun"));
const PoliciesPage = lazy(() => import("./pages/policies/PoliciesList"));
const PolicyEditorPage = lazy(() => import("./pages/policies/PolicyEditor"));
const PolicyCompliancePage = lazy(() => import("./pages/policies/PolicyCompliance"));
const TerminalPage = lazy(() => import("./pages/remote/Terminal"));
const FilesPage = lazy(() => import("./pages/remote/Files"));
const DesktopPage = lazy(() => import("./pages/remote/Desktop"));
const RemoteSessionsPage = lazy(() => import("./pages/remote/Sessions"));
const RecordingPage = lazy(() => import("./pages/remote/Recording"));
const GettingStartedPage = lazy(() => import("./pages/GettingStarted"));
const MfaRequiredPage = lazy(() => import("./pages/auth/MfaRequired"));

function useSetupStatus() {
  return useQuery({
    queryKey: ["setup-status"],
    queryFn: () => api.GET("/api/v1/setup/status"),
    staleTime: Infinity,
  });
}

/** Sends everyone to /setup while the server has no user yet. */
function SetupGate({ children }: { children: ReactNode }) {
  const status = useSetupStatus();
  const location = useLocation();
  if (status.isPending) return <Loading label="Connecting to the server…" />;
  if (status.isError)
    return (
      <div className="mx-auto max-w-lg p-8">
        <ErrorState title="The Breeze server is not answering" error={status.error} retry={() => status.refetch()} />
      </div>
    );
  if (status.data.needs_setup && location.pathname !== "/setup") return <Navigate to="/setup" replace />;
  if (!status.data.needs_setup && location.pathname === "/setup") return <Navigate to="/login" replace />;
  return <>{children}</>;
}

function RequireAuth({ children }: { children: ReactNode }) {
  const { status, error, signOut, me } = useSession();
  const location = useLocation();
  const toast = useToast();
  const idle = me?.idle_timeout_minutes ?? null;
  useIdleSignOut(status === "authenticated" ? idle : null, () => {
    void signOut();
    toast(`Signed out after ${idle} minutes without activity.`);
  });
  if (status === "anonymous") return <Navigate to="/login" replace state={{ from: location.pathname + location.search }} />;
  if (status === "loading") return <Loading label="Loading your session…" />;
  if (status === "error")
    return (
      <div className="mx-auto max-w-lg p-8">
        <ErrorState title="Could not load your session" error={error} retry={() => void signOut()} />
      </div>
    );
  // The MSP requires MFA and this user has none: nothing else answers until they set it up.
  if (me?.mfa_enrollment_required)
    return (
      <Suspense fallback={<Loading />}>
        <MfaRequiredPage />
      </Suspense>
    );
  return <>{children}</>;
}

function RedirectIfAuthed({ children }: { children: ReactNode }) {
  const { status } = useSession();
  return status === "authenticated" ? <Navigate to="/" replace /> : <>{children}</>;
}

/** A route the user may not open shows "not found", like the server's 404 for out-of-scope objects. */
function Gate({ perm, children }: { perm?: Perm; children: ReactNode }) {
  const { perms } = useSession();
  if (perm && !perms.can(perm)) return <NotFoundPage />;
  return <Suspense fallback={<Loading />}>{children}</Suspense>;
}

export function AppRoutes() {
  return (
    <SetupGate>
      <Routes>
        <Route path="/setup" element={<SetupPage />} />
        <Route path="/login" element={<RedirectIfAuthed><LoginPage /></RedirectIfAuthed>} />
        <Route path="/forgot-password" element={<ForgotPasswordPage />} />
        <Route path="/reset-password" element={<ResetPasswordPage />} />
        <Route path="/accept-invite" element={<AcceptInvitePage />} />
        <Route
          element={
            <RequireAuth>
              <OrgScopeProvider>
                <AppShell />
              </OrgScopeProvider>
            </RequireAuth>
          }
        >
          <Route index element={<Gate><DashboardPage /></Gate>} />
          <Route path="get-started" element={<Gate><GettingStartedPage /></Gate>} />
          <Route path="devices" element={<Gate perm="devices:read"><DevicesPage /></Gate>} />
          <Route path="devices/:id" element={<Gate perm="devices:read"><DeviceDetailPage /></Gate>} />
          <Route path="devices/:id/terminal" element={<Gate perm="remote:execute"><TerminalPage /></Gate>} />
          <Route path="devices/:id/files" element={<Gate perm="remote:execute"><FilesPage /></Gate>} />
          <Route path="devices/:id/desktop" element={<Gate perm="remote_desktop:execute"><DesktopPage /></Gate>} />
          <Route path="remote/sessions" element={<Gate perm="remote:read"><RemoteSessionsPage /></Gate>} />
          <Route path="remote/sessions/:id/recording" element={<Gate perm="remote:execute"><RecordingPage /></Gate>} />
          <Route path="scripts" element={<Gate perm="scripts:read"><ScriptsPage /></Gate>} />
          <Route path="scripts/new" element={<Gate perm="scripts:write"><ScriptEditorPage /></Gate>} />
          <Route path="scripts/:id" element={<Gate perm="scripts:read"><ScriptEditorPage /></Gate>} />
          <Route path="alerts" element={<Gate perm="alerts:read"><AlertsInboxPage /></Gate>} />
          <Route path="alert-rules" element={<Gate perm="alerts:read"><AlertRulesPage /></Gate>} />
          <Route path="notification-channels" element={<Gate perm="alerts:read"><NotificationChannelsPage /></Gate>} />
          <Route path="escalation-policies" element={<Gate perm="alerts:read"><EscalationPoliciesPage /></Gate>} />
          <Route path="automations" element={<Gate perm="automations:read"><AutomationsPage /></Gate>} />
          <Route path="automations/new" element={<Gate perm="automations:write"><AutomationEditorPage /></Gate>} />
          <Route path="automations/:id" element={<Gate perm="automations:read"><AutomationEditorPage /></Gate>} />
          <Route path="automation-runs/:id" element={<Gate perm="automations:read"><AutomationRunPage /></Gate>} />
          <Route path="policies" element={<Gate perm="automations:read"><PoliciesPage /></Gate>} />
          <Route path="policies/new" element={<Gate perm="automations:write"><PolicyEditorPage /></Gate>} />
          <Route path="policies/:id" element={<Gate perm="automations:read"><PolicyCompliancePage /></Gate>} />
          <Route path="policies/:id/edit" element={<Gate perm="automations:write"><PolicyEditorPage /></Gate>} />
          <Route path="enrollment-keys" element={<Gate perm="enrollment_keys:read"><EnrollmentKeysPage /></Gate>} />
          <Route path="device-groups" element={<Gate perm="device_groups:read"><DeviceGroupsPage /></Gate>} />
          <Route path="orgs" element={<Gate perm="orgs:read"><OrgsPage /></Gate>} />
          <Route path="users" element={<Gate perm="users:read"><UsersPage /></Gate>} />
          <Route path="roles" element={<Gate perm="roles:read"><RolesPage /></Gate>} />
          <Route path="audit" element={<Gate perm="audit:read"><AuditPage /></Gate>} />
          <Route path="settings" element={<Gate><SettingsPage /></Gate>} />
          <Route path="*" element={<NotFoundPage />} />
        </Route>
      </Routes>
    </SetupGate>
  );
}

export function App() {
  return (
    <QueryClientProvider client={queryClient}>
      <SessionProvider>
        <ToastProvider>
          <BrowserRouter>
            <AppRoutes />
          </BrowserRouter>
        </ToastProvider>
      </SessionProvider>
    </QueryClientProvider>
  );
}
