import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { Settings as PartnerSettingsBody } from "../../api/types";
import { Badge, Card, CardTitle, DefinitionList, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Checkbox, Field, Input, Select } from "../../components/ui/form";
import { ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { useToast } from "../../components/ui/toast";
import { useSession } from "../../auth/session";
import { setTheme, useTheme } from "../../lib/theme";
import { errorMessage } from "../../api/client";
import { formatDateTime } from "../../lib/format";
import { serverErrors, useForm } from "../../lib/form";
import {
  POLICY_FIELDS,
  SMTP_FIELDS,
  describeSeconds,
  policySchema,
  policyUpdate,
  policyValues,
  sectionAliases,
  seesPartnerSettings,
  smtpSchema,
  smtpUpdate,
  smtpValues,
  usualPort,
  type PolicyValues,
  type SmtpValues,
} from "../../lib/settingsForm";
import { MfaCard } from "./MfaCard";

export default function Settings() {
  const { me, perms } = useSession();
  const theme = useTheme();
  const partner = seesPartnerSettings(me, perms);
  return (
    <div className="space-y-4">
      <PageHeader
        title="Settings"
        description={
          partner ? "Your account, your MSP's e-mail and sign-in policy, and how the console looks." : "Your account, its security, and how the console looks."
        }
      />
      <div className="grid gap-4 lg:grid-cols-2">
        <Card>
          <CardTitle>Account</CardTitle>
          <DefinitionList
            items={[
              ["Name", me?.user.name],
              ["E-mail", me?.user.email],
              ["Role", me?.role?.name ?? "—"],
              ["Scope", me?.scope_level],
              ["Member since", formatDateTime(me?.user.created_at)],
            ]}
          />
        </Card>
        <Card>
          <CardTitle>Appearance</CardTitle>
          <fieldset className="flex gap-4 text-sm">
            <legend className="sr-only">Theme</legend>
            {(["light", "dark"] as const).map((t) => (
              <label key={t} className="inline-flex items-center gap-1.5">
                <input type="radio" name="theme" checked={theme === t} onChange={() => setTheme(t)} /> {t === "light" ? "Light" : "Dark"}
              </label>
            ))}
          </fieldset>
        </Card>
        <MfaCard />
      </div>
      {partner && <PartnerSettings />}
    </div>
  );
}

/** The MSP's own settings: partner staff with every organization see them (settings:read). */
function PartnerSettings() {
  const { perms } = useSession();
  const q = useQuery({
    queryKey: ["settings"],
    queryFn: ({ signal }) => api.GET("/api/v1/settings", { signal }),
  });
  if (q.isPending) return <Loading label="Loading your MSP's settings…" />;
  if (q.isError) return <ErrorState title="Could not load your MSP's settings" error={q.error} retry={() => q.refetch()} />;
  const canWrite = perms.can("settings:write");
  return (
    <div className="space-y-2">
      <h2 className="pt-2 text-base font-semibold">Your MSP</h2>
      {!canWrite && <Notice>You can see these settings; changing them needs the settings:write permission.</Notice>}
      <div className="grid gap-4 lg:grid-cols-2">
        <SmtpCard initial={q.data} canWrite={canWrite} />
        <SessionPolicyCard initial={q.data} canWrite={canWrite} />
      </div>
      {q.data.updated_at && <p className="text-xs text-muted-fg">Last changed {formatDateTime(q.data.updated_at)}.</p>}
    </div>
  );
}

const smtpAliases = sectionAliases("smtp", SMTP_FIELDS);
const policyAliases = sectionAliases("session_policy", POLICY_FIELDS);

function SmtpCard({ initial, canWrite }: { initial: PartnerSettingsBody; canWrite: boolean }) {
  const qc = useQueryClient();
  const toast = useToast();
  const [saved, setSaved] = useState(initial);
  const f = useForm<SmtpValues>(smtpSchema, smtpValues(initial));
  const [removePassword, setRemovePassword] = useState(false);
  const [busy, setBusy] = useState(false);
  const [testing, setTesting] = useState(false);
  const [test, setTest] = useState<{ ok: boolean; text: string } | null>(null);
  const dirty = removePassword || JSON.stringify(f.values) !== JSON.stringify(smtpValues(saved));
  const testable = !!saved.smtp.host && !!saved.smtp.from;
  const fallback = saved.server_defaults.smtp_configured
    ? "the Breeze server's own SMTP server sends it"
    : "no mail is sent: the Breeze server has no SMTP server configured";

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const v = f.validate();
    if (!v) return;
    setBusy(true);
    try {
      const next = await api.PATCH("/api/v1/settings", { body: { smtp: smtpUpdate(v, removePassword) } });
      qc.setQueryData(["settings"], next);
      setSaved(next);
      f.setValues(smtpValues(next));
      setRemovePassword(false);
      setTest(null);
      toast("E-mail settings saved.");
    } catch (err) {
      f.setServerErrors(serverErrors<SmtpValues>(err, SMTP_FIELDS, smtpAliases));
    } finally {
      setBusy(false);
    }
  };

  const sendTest = async () => {
    setTesting(true);
    setTest(null);
    try {
      const r = await api.POST("/api/v1/settings/smtp/test");
      setTest({ ok: true, text: `A test message went to ${r.sent_to} through ${r.host}:${r.port}. Check that it arrived.` });
    } catch (err) {
      setTest({ ok: false, text: errorMessage(err) });
    } finally {
      setTesting(false);
    }
  };

  const passwordSet = saved.smtp.password_set && !removePassword;
  return (
    <Card>
      <CardTitle>
        E-mail (SMTP) {saved.smtp.enabled ? <Badge tone="ok">on</Badge> : <Badge>off</Badge>}
      </CardTitle>
      <p className="mb-3 text-sm text-muted-fg">
        Password resets and invitations for your users are sent through your own mail server when this is on. When it is off, {fallback}.
      </p>
      <form onSubmit={save} noValidate className="space-y-3">
        <fieldset disabled={!canWrite} className="space-y-3">
          <Checkbox label="Send mail through this server" checked={f.values.enabled} onChange={(e) => f.set("enabled", e.target.checked)} />
          <div className="grid gap-3 sm:grid-cols-[1fr_7rem]">
            <Field label="Host" error={f.errors.host}>
              {(p) => <Input {...p} {...f.bind("host")} placeholder="smtp.example.com" autoComplete="off" spellCheck={false} />}
            </Field>
            <Field label="Port" error={f.errors.port}>
              {(p) => <Input {...p} {...f.bind("port")} inputMode="numeric" placeholder={String(usualPort(f.values.tls))} />}
            </Field>
          </div>
          <Field label="Security" error={f.errors.tls}>
            {(p) => (
              <Select {...p} value={f.values.tls} onChange={(e) => f.set("tls", e.target.value as SmtpValues["tls"])}>
                <option value="starttls">STARTTLS (usually port 587)</option>
                <option value="tls">TLS from the start (usually port 465)</option>
                <option value="none">None: plain text, trusted networks only</option>
              </Select>
            )}
          </Field>
          <Field label="Sender" hint="The From of every message: it@example.com or Name <it@example.com>." error={f.errors.from}>
            {(p) => <Input {...p} {...f.bind("from")} placeholder="Acme IT <it@example.com>" autoComplete="off" />}
          </Field>
          <div className="grid gap-3 sm:grid-cols-2">
            <Field label="Username" error={f.errors.username}>
              {(p) => <Input {...p} {...f.bind("username")} autoComplete="off" spellCheck={false} />}
            </Field>
            <Field
              label="Password"
              hint={passwordSet ? "A password is stored. Leave empty to keep it." : removePassword ? "The stored password is removed when you save." : undefined}
              error={f.errors.password}
            >
              {(p) => (
                <Input
                  {...p}
                  {...f.bind("password")}
                  type="password"
                  autoComplete="new-password"
                  placeholder={passwordSet ? "•••••••• set" : ""}
                  data-testid="smtp-password"
                />
              )}
            </Field>
          </div>
          {canWrite && saved.smtp.password_set && (
            <Button variant="link" size="sm" onClick={() => setRemovePassword((r) => !r)}>
              {removePassword ? "Keep the stored password" : "Remove the stored password"}
            </Button>
          )}
        </fieldset>
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
        {test && <Notice tone={test.ok ? "ok" : "danger"}>{test.text}</Notice>}
        {canWrite && (
          <div className="flex flex-wrap items-center gap-2">
            <Button type="submit" loading={busy} disabled={!dirty}>
              Save
            </Button>
            <Button variant="secondary" loading={testing} disabled={dirty || !testable} onClick={() => void sendTest()}>
              Send test e-mail
            </Button>
            {(dirty || !testable) && (
              <span className="text-xs text-muted-fg">{dirty ? "Save first: the test uses the saved settings." : "Save a host and sender to send a test."}</span>
            )}
          </div>
        )}
      </form>
    </Card>
  );
}

function SessionPolicyCard({ initial, canWrite }: { initial: PartnerSettingsBody; canWrite: boolean }) {
  const { me } = useSession();
  const qc = useQueryClient();
  const toast = useToast();
  const [saved, setSaved] = useState(initial);
  const defaults = initial.server_defaults;
  const [schema] = useState(() => policySchema(defaults));
  const f = useForm<PolicyValues>(schema, policyValues(initial));
  const [busy, setBusy] = useState(false);
  const dirty = JSON.stringify(f.values) !== JSON.stringify(policyValues(saved));
  const ownMfa = !!me?.user.mfa_enabled;

  const save = async (e: React.FormEvent) => {
    e.preventDefault();
    const v = f.validate();
    if (!v) return;
    setBusy(true);
    try {
      const next = await api.PATCH("/api/v1/settings", { body: { session_policy: policyUpdate(v) } });
      qc.setQueryData(["settings"], next);
      setSaved(next);
      f.setValues(policyValues(next));
      toast("Session policy saved. It applies from each user's next sign-in or token renewal.");
    } catch (err) {
      f.setServerErrors(serverErrors<PolicyValues>(err, POLICY_FIELDS, policyAliases));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card>
      <CardTitle>Session policy</CardTitle>
      <p className="mb-3 text-sm text-muted-fg">How long your users, and your customers' users, stay signed in. Empty fields use the server's defaults.</p>
      <form onSubmit={save} noValidate className="space-y-3">
        <fieldset disabled={!canWrite} className="space-y-3">
          <Field
            label="Access token lifetime (minutes)"
            hint={`5 to 60. Tokens renew quietly while the user works. Default: ${describeSeconds(defaults.access_token_secs)}.`}
            error={f.errors.access_token_minutes}
          >
            {(p) => <Input {...p} {...f.bind("access_token_minutes")} inputMode="numeric" placeholder={String(Math.round(defaults.access_token_secs / 60))} />}
          </Field>
          <Field
            label="Session lifetime (hours)"
            hint={`Users sign in again after this long, however active (1 to 8760). Default: no limit while used at least every ${defaults.refresh_token_days} days.`}
            error={f.errors.session_lifetime_hours}
          >
            {(p) => <Input {...p} {...f.bind("session_lifetime_hours")} inputMode="numeric" placeholder="no limit" />}
          </Field>
          <Field
            label="Idle timeout (minutes)"
            hint="Signed out after this long without activity (5 to 43200; at least the access token lifetime). Default: none."
            error={f.errors.idle_timeout_minutes}
          >
            {(p) => <Input {...p} {...f.bind("idle_timeout_minutes")} inputMode="numeric" placeholder="none" />}
          </Field>
          <div className="space-y-1">
            <Checkbox
              label="Require two-factor authentication for every user"
              checked={f.values.require_mfa}
              disabled={!f.values.require_mfa && !ownMfa}
              onChange={(e) => f.set("require_mfa", e.target.checked)}
            />
            <p className="text-xs text-muted-fg">
              {!ownMfa && !f.values.require_mfa
                ? "Set up two-factor authentication for your own account first (above)."
                : "Users without it are asked to set it up before they can do anything else."}
            </p>
            {f.errors.require_mfa && (
              <p role="alert" className="text-xs font-medium text-danger">
                {f.errors.require_mfa}
              </p>
            )}
          </div>
        </fieldset>
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
        {canWrite && (
          <Button type="submit" loading={busy} disabled={!dirty}>
            Save
          </Button>
        )}
      </form>
    </Card>
  );
}
