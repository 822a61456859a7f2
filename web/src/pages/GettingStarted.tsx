// First-run guidance: organization → site → enrollment key → install command → a live wait
// for the device, which then opens. Every step can be skipped and the flow resumed from the
// dashboard; where it stands is kept for the browser tab (sessionStorage: the key's secret
// is shown only once and must not outlive the tab).
import { useEffect, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../api/instance";
import { errorMessage } from "../api/client";
import type { Device, EnrollmentKeyCreated } from "../api/types";
import { Card, PageHeader } from "../components/ui/card";
import { Button, buttonClass } from "../components/ui/button";
import { Field, Input, Select } from "../components/ui/form";
import { Notice, Spinner } from "../components/ui/feedback";
import { InstallCommand } from "../components/InstallCommand";
import { cn } from "../components/ui/cn";
import { usePerms } from "../auth/session";
import { useOrgs, useSites } from "../lib/queries";
import { useOrgScope } from "../lib/scope";
import { createEnrollmentKey } from "../lib/enrollment";
import { browserTimeZone } from "../lib/timezones";
import { TimeZoneField } from "../components/TimeZoneField";
import { onLiveEvent } from "../live/events";

export const STEPS = [
  { id: "organization", label: "Organization" },
  { id: "site", label: "Site" },
  { id: "key", label: "Enrollment key" },
  { id: "install", label: "Install the agent" },
  { id: "wait", label: "First device" },
] as const;
export type StepId = (typeof STEPS)[number]["id"];

interface Progress {
  orgId: string | null;
  siteId: string | null;
  key: EnrollmentKeyCreated | null;
}

const KEY = "breeze.getting-started";

function loadProgress(): Progress {
  try {
    const v = JSON.parse(sessionStorage.getItem(KEY) ?? "{}") as Partial<Progress>;
    return { orgId: v.orgId ?? null, siteId: v.siteId ?? null, key: v.key ?? null };
  } catch {
    return { orgId: null, siteId: null, key: null };
  }
}

/** The first step still to do, given what is chosen so far. */
export function firstOpenStep(p: Progress): StepId {
  if (!p.orgId) return "organization";
  if (!p.siteId) return "site";
  if (!p.key || p.key.site_id !== p.siteId) return "key";
  return "install";
}

function isStep(s: string | null): s is StepId {
  return STEPS.some((x) => x.id === s);
}

export default function GettingStartedPage() {
  const [params, setParams] = useSearchParams();
  const scope = useOrgScope();
  const [progress, setProgressState] = useState<Progress>(() => {
    const p = loadProgress();
    // Arriving from a key dialog (`?site=`) or an org-scoped user: start from what is known.
    const site = params.get("site");
    const org = params.get("org") ?? p.orgId ?? (scope.canSwitch ? null : scope.orgId);
    return { ...p, orgId: org, siteId: site ?? p.siteId };
  });
  const setProgress = (p: Progress) => {
    sessionStorage.setItem(KEY, JSON.stringify(p));
    setProgressState(p);
  };
  const requested = params.get("step");
  const step: StepId = isStep(requested) ? requested : firstOpenStep(progress);
  const go = (s: StepId) => setParams({ step: s });
  const index = STEPS.findIndex((s) => s.id === step);

  return (
    <div className="mx-auto max-w-3xl space-y-4">
      <PageHeader
        title="Getting started"
        description="Add your first device: an organization and a site to hold it, an enrollment key, and one command on the machine."
        actions={
          <Link to="/" className={buttonClass("ghost", "sm")}>
            Skip for now
          </Link>
        }
      />
      <ol aria-label="Steps" className="flex flex-wrap gap-2 text-sm">
        {STEPS.map((s, i) => (
          <li key={s.id}>
            <button
              type="button"
              onClick={() => go(s.id)}
              aria-current={s.id === step ? "step" : undefined}
              className={cn(
                "rounded-full border px-3 py-1",
                s.id === step ? "border-primary bg-primary/10 font-semibold text-primary" : i < index ? "border-ok/50 text-fg" : "border-border text-muted-fg",
              )}
            >
              {i + 1}. {s.label}
            </button>
          </li>
        ))}
      </ol>
      <Card>
        {step === "organization" && <OrgStep progress={progress} onDone={(orgId) => (setProgress({ ...progress, orgId, siteId: orgId === progress.orgId ? progress.siteId : null }), go("site"))} />}
        {step === "site" && (
          <SiteStep orgId={progress.orgId} back={() => go("organization")} onDone={(siteId) => (setProgress({ ...progress, siteId }), go("key"))} />
        )}
        {step === "key" && <KeyStep progress={progress} back={() => go("site")} onDone={(key) => (setProgress({ ...progress, key }), go("install"))} />}
        {step === "install" && <InstallStep progress={progress} back={() => go("key")} next={() => go("wait")} />}
        {step === "wait" && <WaitStep progress={progress} back={() => go("install")} />}
      </Card>
    </div>
  );
}

function StepFooter({ back, children }: { back?: () => void; children?: React.ReactNode }) {
  return (
    <div className="mt-4 flex flex-wrap items-center justify-end gap-2">
      {back && (
        <Button variant="ghost" className="mr-auto" onClick={back}>
          Back
        </Button>
      )}
      {children}
    </div>
  );
}

function OrgStep({ progress, onDone }: { progress: Progress; onDone: (orgId: string) => void }) {
  const perms = usePerms();
  const orgs = useOrgs();
  const qc = useQueryClient();
  const [chosen, setChosen] = useState(progress.orgId ?? "");
  const [name, setName] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const list = orgs.data ?? [];
  const value = chosen || list[0]?.id || "";
  const create = async () => {
    if (!name.trim()) return setError("Enter the organization's name.");
    setBusy(true);
    setError(null);
    try {
      const org = await api.POST("/api/v1/orgs", { body: { name: name.trim() } });
      await qc.invalidateQueries({ queryKey: ["orgs"] });
      onDone(org.id);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="space-y-4">
      <h2 className="text-base font-semibold">Your first organization</h2>
      <p className="text-sm text-muted-fg">An organization is a customer (or your own company). Its devices, sites and users are kept apart from every other one.</p>
      {list.length > 0 && (
        <div className="flex flex-wrap items-end gap-2">
          <Field label="Organization" className="min-w-60 flex-1">
            {(p) => (
              <Select {...p} value={value} onChange={(e) => setChosen(e.target.value)}>
                {list.map((o) => (
                  <option key={o.id} value={o.id}>
                    {o.name}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          <Button disabled={!value} onClick={() => onDone(value)}>
            Use this organization
          </Button>
        </div>
      )}
      {perms.can("orgs:write") ? (
        <form
          className="flex flex-wrap items-end gap-2"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <Field label={list.length > 0 ? "Or a new organization" : "Organization name"} className="min-w-60 flex-1" error={error}>
            {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} placeholder="Acme Corp" autoFocus={list.length === 0} />}
          </Field>
          <Button type="submit" loading={busy} variant={list.length > 0 ? "secondary" : "primary"}>
            Create organization
          </Button>
        </form>
      ) : (
        list.length === 0 && <Notice tone="warn">You have no organization and may not create one: ask your MSP's administrator.</Notice>
      )}
    </div>
  );
}

function SiteStep({ orgId, back, onDone }: { orgId: string | null; back: () => void; onDone: (siteId: string) => void }) {
  const perms = usePerms();
  const sites = useSites(orgId);
  const qc = useQueryClient();
  const [chosen, setChosen] = useState("");
  const [name, setName] = useState("Main office");
  const [tz, setTz] = useState(browserTimeZone);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const list = sites.data ?? [];
  if (!orgId)
    return (
      <div className="space-y-3">
        <Notice>Choose or create an organization first.</Notice>
        <StepFooter back={back} />
      </div>
    );
  const create = async () => {
    if (!name.trim()) return setError("Enter the site's name.");
    setBusy(true);
    setError(null);
    try {
      const site = await api.POST("/api/v1/orgs/{id}/sites", { params: { path: { id: orgId } }, body: { name: name.trim(), timezone: tz } });
      await qc.invalidateQueries({ queryKey: ["sites"] });
      onDone(site.id);
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="space-y-4">
      <h2 className="text-base font-semibold">A site for the device</h2>
      <p className="text-sm text-muted-fg">A site is a place (an office, a data centre). Devices enroll into a site.</p>
      {list.length > 0 && (
        <div className="flex flex-wrap items-end gap-2">
          <Field label="Site" className="min-w-60 flex-1">
            {(p) => (
              <Select {...p} value={chosen || list[0].id} onChange={(e) => setChosen(e.target.value)}>
                {list.map((s) => (
                  <option key={s.id} value={s.id}>
                    {s.name}
                  </option>
                ))}
              </Select>
            )}
          </Field>
          <Button onClick={() => onDone(chosen || list[0].id)}>Use this site</Button>
        </div>
      )}
      {perms.can("sites:write") && (
        <form
          className="space-y-3"
          onSubmit={(e) => {
            e.preventDefault();
            void create();
          }}
        >
          <Field label={list.length > 0 ? "Or a new site" : "Site name"} error={error}>
            {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <TimeZoneField value={tz} onChange={setTz} hint="Schedules and maintenance windows of the site's devices use it." />
          <div className="flex justify-end">
            <Button type="submit" loading={busy} variant={list.length > 0 ? "secondary" : "primary"}>
              Create site
            </Button>
          </div>
        </form>
      )}
      <StepFooter back={back} />
    </div>
  );
}

function KeyStep({ progress, back, onDone }: { progress: Progress; back: () => void; onDone: (k: EnrollmentKeyCreated) => void }) {
  const perms = usePerms();
  const [name, setName] = useState("First devices");
  const [days, setDays] = useState("7");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  if (!progress.orgId || !progress.siteId)
    return (
      <div className="space-y-3">
        <Notice>Choose a site first: the key enrolls devices into it.</Notice>
        <StepFooter back={back} />
      </div>
    );
  const create = async () => {
    const d = Number(days);
    if (!name.trim()) return setError("Name the key.");
    if (!Number.isInteger(d) || d < 1 || d > 365) return setError("Expiry: 1 to 365 days.");
    setBusy(true);
    setError(null);
    try {
      onDone(await createEnrollmentKey({ org_id: progress.orgId!, site_id: progress.siteId!, name: name.trim(), expires_in_hours: d * 24 }));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const current = progress.key && progress.key.site_id === progress.siteId ? progress.key : null;
  return (
    <form
      className="space-y-4"
      onSubmit={(e) => {
        e.preventDefault();
        void create();
      }}
    >
      <h2 className="text-base font-semibold">An enrollment key</h2>
      <p className="text-sm text-muted-fg">The agent presents the key once, to join the site. It expires; revoke it under Enrollment keys when the rollout is done.</p>
      {current && (
        <Notice tone="ok">
          Key “{current.name}” is ready. <button type="button" className="font-medium underline" onClick={() => onDone(current)}>Use it</button> or create another.
        </Notice>
      )}
      {perms.can("enrollment_keys:write") ? (
        <div className="grid gap-3 sm:grid-cols-[2fr_1fr]">
          <Field label="Key name" error={error}>
            {(p) => <Input {...p} value={name} onChange={(e) => setName(e.target.value)} />}
          </Field>
          <Field label="Expires after (days)">
            {(p) => <Input {...p} value={days} onChange={(e) => setDays(e.target.value)} inputMode="numeric" />}
          </Field>
        </div>
      ) : (
        <Notice tone="warn">You may not create enrollment keys: ask an administrator for one.</Notice>
      )}
      <StepFooter back={back}>
        {perms.can("enrollment_keys:write") && (
          <Button type="submit" loading={busy}>
            Create enrollment key
          </Button>
        )}
      </StepFooter>
    </form>
  );
}

function InstallStep({ progress, back, next }: { progress: Progress; back: () => void; next: () => void }) {
  const key = progress.key;
  return (
    <div className="space-y-4">
      <h2 className="text-base font-semibold">Install the agent</h2>
      {key ? (
        <>
          <Notice tone="warn">Copy the command now: Breeze stores only the key’s hash and cannot show it again.</Notice>
          <InstallCommand installScriptCommand={key.install_script_command} enrollCommand={key.install_command} />
        </>
      ) : (
        <Notice>Create an enrollment key first: the command carries it.</Notice>
      )}
      <StepFooter back={back}>
        <Button onClick={next} disabled={!progress.siteId}>
          Wait for the device
        </Button>
      </StepFooter>
    </div>
  );
}

/** The newest device of the site that enrolled at or after `since`. */
export function newestEnrolledSince(devices: Device[], since: string): Device | null {
  const t = new Date(since).getTime();
  return devices.find((d) => d.enrolled_at && new Date(d.enrolled_at).getTime() >= t) ?? null;
}

function WaitStep({ progress, back }: { progress: Progress; back: () => void }) {
  const navigate = useNavigate();
  // A device that enrolled with this flow's key, or since the wait began.
  const [since] = useState(() => progress.key?.created_at ?? new Date(Date.now() - 60_000).toISOString());
  const siteId = progress.siteId;
  // Live events invalidate every ["devices", …] query, so this refetches the moment one
  // arrives; the interval only covers a stream that is down.
  const devices = useQuery({
    queryKey: ["devices", "first-run", siteId],
    queryFn: ({ signal }) => api.GET("/api/v1/devices", { params: { query: { site_id: siteId ?? undefined, sort: "-created_at", limit: 20 } }, signal }),
    enabled: !!siteId,
    refetchInterval: 10_000,
  });
  const found = devices.data ? newestEnrolledSince(devices.data.data, since) : null;
  useEffect(
    () =>
      onLiveEvent((e) => {
        if (e.type === "device.enrolled" && e.site_id === siteId && typeof e.device_id === "string") navigate(`/devices/${e.device_id}`);
      }),
    [navigate, siteId],
  );
  useEffect(() => {
    if (found) navigate(`/devices/${found.id}`);
  }, [found, navigate]);
  if (!siteId)
    return (
      <div className="space-y-3">
        <Notice>Choose a site first.</Notice>
        <StepFooter back={back} />
      </div>
    );
  return (
    <div className="space-y-4">
      <h2 className="text-base font-semibold">Waiting for the device</h2>
      <div role="status" aria-live="polite" className="flex items-center gap-3 text-sm">
        <Spinner /> Waiting for a device to enroll… Run the install command on the machine; its page opens here as soon as it enrolls.
      </div>
      {devices.isError && <Notice tone="danger">{errorMessage(devices.error)}</Notice>}
      <StepFooter back={back}>
        <Link to="/devices" className={buttonClass("secondary")}>
          Go to devices
        </Link>
      </StepFooter>
    </div>
  );
}
