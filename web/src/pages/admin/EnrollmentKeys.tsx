import { useState } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { api } from "../../api/instance";
import { Link, useSearchParams } from "react-router";
import type { EnrollmentKey, EnrollmentKeyCreated } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button, buttonClass } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions, DialogForm, Options } from "../../components/ui/dialog-form";
import { Field, Input, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { useOrgs, useSites } from "../../lib/queries";
import { serverErrors, useForm } from "../../lib/form";
import { formatDateTime } from "../../lib/format";
import { createEnrollmentKey } from "../../lib/enrollment";
import { InstallCommand } from "../../components/InstallCommand";
import { NoOrgsNotice } from "../../components/NoOrgsNotice";
import { errorMessage } from "../../api/client";
import { CopyField } from "../../components/ui/copy";

export default function EnrollmentKeys() {
  const perms = usePerms();
  const scope = useOrgScope();
  const qc = useQueryClient();
  const toast = useToast();
  // `?new=1` (the dashboard's "Create an enrollment key") opens the form at once.
  const [params, setParams] = useSearchParams();
  const [creating, setCreatingState] = useState(() => params.get("new") === "1" && perms.can("enrollment_keys:write"));
  const setCreating = (open: boolean) => {
    setCreatingState(open);
    if (!open && params.has("new")) setParams({}, { replace: true });
  };
  const [created, setCreated] = useState<EnrollmentKeyCreated | null>(null);
  const [revoking, setRevoking] = useState<EnrollmentKey | null>(null);
  const list = useQuery({
    queryKey: ["enrollment-keys", scope.orgId, scope.siteId],
    queryFn: ({ signal }) => api.GET("/api/v1/enrollment-keys", { params: { query: { org_id: scope.orgId ?? undefined, site_id: scope.siteId ?? undefined, limit: 200 } }, signal }),
  });
  const revoke = useMutation({
    mutationFn: (k: EnrollmentKey) => api.DELETE("/api/v1/enrollment-keys/{id}", { params: { path: { id: k.id } } }),
    onSuccess: () => {
      toast("Key revoked.");
      setRevoking(null);
      void qc.invalidateQueries({ queryKey: ["enrollment-keys"] });
    },
  });

  return (
    <div>
      <PageHeader
        title="Enrollment keys"
        description="A key lets the agent join a site. Give it an expiry and a use limit; revoke it when the rollout is done."
        actions={perms.can("enrollment_keys:write") && <Button onClick={() => setCreating(true)}>New key</Button>}
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} />
      ) : list.data.data.length === 0 ? (
        <EmptyState title="No enrollment keys">Create one, then run the command it shows on each machine.</EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th className="hidden md:table-cell">Key</Th>
              <Th>Uses</Th>
              <Th className="hidden md:table-cell">Expires</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((k) => {
              const expired = k.expires_at && new Date(k.expires_at).getTime() < Date.now();
              return (
                <tr key={k.id}>
                  <Td className="font-medium">
                    {k.name} {k.revoked_at ? <Badge tone="danger">revoked</Badge> : expired ? <Badge tone="warn">expired</Badge> : null}
                  </Td>
                  <Td className="hidden font-mono text-xs md:table-cell">{k.key_prefix ? `${k.key_prefix}…` : "—"}</Td>
                  <Td>
                    {k.uses}
                    {k.max_uses ? ` / ${k.max_uses}` : ""}
                  </Td>
                  <Td className="hidden md:table-cell">{formatDateTime(k.expires_at)}</Td>
                  <Td className="text-right">
                    {perms.can("enrollment_keys:delete") && !k.revoked_at && (
                      <Button size="sm" variant="secondary" onClick={() => setRevoking(k)}>
                        Revoke
                      </Button>
                    )}
                  </Td>
                </tr>
              );
            })}
          </tbody>
        </Table>
      )}
      {creating && (
        <CreateKeyDialog
          onClose={() => setCreating(false)}
          onCreated={(k) => {
            setCreating(false);
            setCreated(k);
            void qc.invalidateQueries({ queryKey: ["enrollment-keys"] });
          }}
        />
      )}
      <Dialog
        open={!!created}
        onClose={() => setCreated(null)}
        title="Key created"
        wide
        footer={
          <>
            {created && (
              <Link to={`/get-started?step=wait&org=${created.org_id}&site=${created.site_id}`} className={buttonClass("secondary")}>
                Wait for the device
              </Link>
            )}
            <Button onClick={() => setCreated(null)}>Done</Button>
          </>
        }
      >
        {created && (
          <div className="space-y-3">
            <Notice tone="warn">Copy the key now: Breeze stores only its hash and cannot show it again.</Notice>
            <InstallCommand installScriptCommand={created.install_script_command} enrollCommand={created.install_command} />
            <CopyField label="Key" value={created.key} />
          </div>
        )}
      </Dialog>
      <Dialog
        open={!!revoking}
        onClose={() => setRevoking(null)}
        title="Revoke this key?"
        footer={
          <>
            <Button variant="secondary" onClick={() => setRevoking(null)}>
              Cancel
            </Button>
            <Button variant="danger" loading={revoke.isPending} onClick={() => revoking && revoke.mutate(revoking)}>
              Revoke
            </Button>
          </>
        }
      >
        <p className="text-sm">No new agent can enroll with “{revoking?.name}”. Devices already enrolled keep working.</p>
        {revoke.isError && <Notice tone="danger">{errorMessage(revoke.error)}</Notice>}
      </Dialog>
    </div>
  );
}

const schema = z.object({
  name: z.string().trim().min(1, "Name the key, e.g. “Office rollout”."),
  org_id: z.string().min(1, "Choose an organization."),
  site_id: z.string().min(1, "Choose a site."),
  expires_in_days: z.string().refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 365, "1 to 365 days."),
  max_uses: z.string().refine((v) => v === "" || (/^\d+$/.test(v) && Number(v) >= 1), "A positive number, or empty for no limit."),
});
type Values = z.infer<typeof schema>;

function CreateKeyDialog({ onClose, onCreated }: { onClose: () => void; onCreated: (k: EnrollmentKeyCreated) => void }) {
  const scope = useOrgScope();
  const orgs = useOrgs();
  const f = useForm<Values>(schema, { name: "", org_id: scope.orgId ?? "", site_id: scope.siteId ?? "", expires_in_days: "7", max_uses: "" });
  const sites = useSites(f.values.org_id || null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const v = f.validate();
    if (!v) return;
    setBusy(true);
    try {
      onCreated(
        await createEnrollmentKey({
          name: v.name,
          org_id: v.org_id,
          site_id: v.site_id,
          expires_in_hours: Number(v.expires_in_days) * 24,
          max_uses: v.max_uses ? Number(v.max_uses) : null,
        }),
      );
    } catch (e) {
      f.setServerErrors(serverErrors<Values>(e, ["name", "org_id", "site_id", "max_uses"], { expires_in_hours: "expires_in_days" }));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      open
      onClose={onClose}
      title="New enrollment key"
      footer={<DialogActions onCancel={onClose} onSubmit={submit} busy={busy} submitLabel={"Create key"} />}
    >
      <DialogForm onSubmit={() => void submit()}>
        <Field label="Name" error={f.errors.name}>
          {(p) => <Input {...p} {...f.bind("name")} autoFocus />}
        </Field>
        {scope.canSwitch && (
          <Field label="Organization" error={f.errors.org_id}>
            {(p) => (
              <Select {...p} value={f.values.org_id} onChange={(e) => (f.set("org_id", e.target.value), f.set("site_id", ""))}>
                <Options items={orgs.data} />
              </Select>
            )}
          </Field>
        )}
        {scope.canSwitch && <NoOrgsNotice orgs={orgs} />}
        <Field label="Site" hint="Devices that enroll with this key join this site." error={f.errors.site_id}>
          {(p) => (
            <Select {...p} value={f.values.site_id} onChange={(e) => f.set("site_id", e.target.value)} disabled={!f.values.org_id}>
              <option value="">{sites.isFetching ? "Loading…" : "Choose…"}</option>
              {sites.data?.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </Select>
          )}
        </Field>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Expires after (days)" hint="1 to 365." error={f.errors.expires_in_days}>
            {(p) => <Input {...p} {...f.bind("expires_in_days")} inputMode="numeric" />}
          </Field>
          <Field label="Maximum uses" hint="Empty = unlimited." error={f.errors.max_uses}>
            {(p) => <Input {...p} {...f.bind("max_uses")} inputMode="numeric" />}
          </Field>
        </div>
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
      </DialogForm>
    </Dialog>
  );
}
