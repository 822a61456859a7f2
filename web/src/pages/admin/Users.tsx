import { useState } from "react";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { api } from "../../api/instance";
import type { Invited, Member, Role } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions, Options } from "../../components/ui/dialog-form";
import { Checkbox, Field, Input, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useToast } from "../../components/ui/toast";
import { useSession } from "../../auth/session";
import { isPartnerUser } from "../../auth/permissions";
import { useOrgs, useRoles, useSites } from "../../lib/queries";
import { serverErrors, useForm } from "../../lib/form";
import { useEditDialog } from "../../lib/editDialog";
import { inviteOutcome, relativeTime } from "../../lib/format";
import { NoOrgsNotice } from "../../components/NoOrgsNotice";
import { CopyField } from "../../components/ui/copy";

export default function Users() {
  const { perms } = useSession();
  const [q, setQ] = useState("");
  const [editing, setEditing] = useState<Member | "new" | null>(null);
  const [invited, setInvited] = useState<Invited | null>(null);
  const list = useQuery({
    queryKey: ["users", q],
    queryFn: ({ signal }) => api.GET("/api/v1/users", { params: { query: { q: q.trim() || undefined, limit: 200 } }, signal }),
    placeholderData: (p) => p,
  });
  return (
    <div>
      <PageHeader title="Users" description="Technicians and customer users, their roles and what they can reach." actions={perms.can("users:write") && <Button onClick={() => setEditing("new")}>Invite user</Button>} />
      <Input type="search" aria-label="Search users" placeholder="Search name or e-mail…" value={q} onChange={(e) => setQ(e.target.value)} className="mb-3 max-w-sm" />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} />
      ) : list.data.data.length === 0 ? (
        <EmptyState title="No users match" />
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>Role</Th>
              <Th className="hidden md:table-cell">Scope</Th>
              <Th className="hidden md:table-cell">Last sign-in</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {list.data.data.map((m) => (
              <tr key={m.id}>
                <Td>
                  <span className="font-medium">{m.name}</span> {m.status !== "active" && <Badge tone={m.status === "invited" ? "warn" : "danger"}>{m.status}</Badge>}
                  {m.mfa_enabled && <Badge tone="ok">MFA</Badge>}
                  <p className="text-xs text-muted-fg">{m.email}</p>
                </Td>
                <Td>{m.role_name}</Td>
                <Td className="hidden text-xs md:table-cell">
                  {m.org_id ? `Organization${m.site_ids ? `, ${m.site_ids.length} site(s)` : ""}` : m.org_access === "selected" ? `${m.org_ids?.length ?? 0} organization(s)` : "All organizations"}
                </Td>
                <Td className="hidden md:table-cell">{relativeTime(m.last_login_at)}</Td>
                <Td className="text-right">
                  {perms.can("users:write") && (
                    <Button size="sm" variant="ghost" onClick={() => setEditing(m)}>
                      Edit
                    </Button>
                  )}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {editing && (
        <UserDialog
          member={editing === "new" ? null : editing}
          onClose={() => setEditing(null)}
          onInvited={(i) => {
            setEditing(null);
            setInvited(i);
          }}
        />
      )}
      <Dialog open={!!invited} onClose={() => setInvited(null)} title="Invitation created" wide footer={<Button onClick={() => setInvited(null)}>Done</Button>}>
        {invited && (
          <div className="space-y-3">
            <p className="text-sm">{inviteOutcome(invited)}</p>
            <CopyField label="Invitation link" value={`${window.location.origin}/accept-invite?token=${encodeURIComponent(invited.invite_token)}`} />
          </div>
        )}
      </Dialog>
    </div>
  );
}

const schema = z.object({
  email: z.string().trim().email("Enter a valid e-mail address."),
  name: z.string().trim().min(1, "Enter a name."),
  role_id: z.string().min(1, "Choose a role."),
  kind: z.enum(["partner", "organization"]),
  org_access: z.enum(["all", "selected"]),
  org_ids: z.array(z.string()),
  org_id: z.string(),
  site_ids: z.array(z.string()),
  status: z.enum(["active", "disabled", "invited"]),
});
type Values = z.infer<typeof schema>;

function UserDialog({ member, onClose, onInvited }: { member: Member | null; onClose: () => void; onInvited: (i: Invited) => void }) {
  const { me, perms } = useSession();
  const partner = isPartnerUser(me);
  const qc = useQueryClient();
  const toast = useToast();
  const roles = useRoles();
  const orgs = useOrgs();
  const [busy, setBusy] = useState(false);
  const f = useForm<Values>(
    schema.refine((v) => v.kind !== "organization" || v.org_id, { path: ["org_id"], message: "Choose the user's organization." }).refine((v) => v.kind !== "partner" || v.org_access === "all" || v.org_ids.length > 0, {
      path: ["org_ids"],
      message: "Pick at least one organization.",
    }),
    {
      email: member?.email ?? "",
      name: member?.name ?? "",
      role_id: member?.role_id ?? "",
      kind: member ? (member.org_id ? "organization" : "partner") : partner ? "partner" : "organization",
      org_access: (member?.org_access as Values["org_access"]) ?? "all",
      org_ids: member?.org_ids ?? [],
      org_id: member?.org_id ?? (partner ? "" : (me?.org_id ?? "")),
      site_ids: member?.site_ids ?? [],
      status: (member?.status as Values["status"]) ?? "active",
    },
  );
  const sites = useSites(f.values.kind === "organization" ? f.values.org_id || null : null);
  const roleChoices = (roles.data ?? []).filter((r: Role) => r.scope === f.values.kind);

  const submit = async () => {
    const v = f.validate();
    if (!v) return;
    setBusy(true);
    try {
      const scopeFields =
        v.kind === "partner" ? { org_access: v.org_access, org_ids: v.org_access === "selected" ? v.org_ids : null } : { site_ids: v.site_ids.length ? v.site_ids : null };
      if (member) {
        await api.PATCH("/api/v1/users/{id}", { params: { path: { id: member.id } }, body: { name: v.name, role_id: v.role_id, ...(member.status !== "invited" ? { status: v.status } : {}), ...scopeFields } });
        toast("User saved.");
        onClose();
      } else {
        const r = await api.POST("/api/v1/users", { body: { email: v.email, name: v.name, role_id: v.role_id, ...(v.kind === "organization" ? { org_id: v.org_id } : {}), ...scopeFields } });
        onInvited(r);
      }
      void qc.invalidateQueries({ queryKey: ["users"] });
    } catch (e) {
      f.setServerErrors(serverErrors<Values>(e, ["email", "name", "role_id", "org_id", "org_ids", "site_ids", "org_access", "status"]));
    } finally {
      setBusy(false);
    }
  };
  const { remove } = useEditDialog({
    form: f,
    fields: [],
    invalidate: "users",
    onDone: onClose,
    save: async () => "",
    remove: member
      ? async () => {
          await api.DELETE("/api/v1/users/{id}", { params: { path: { id: member.id } } });
          return "User removed.";
        }
      : undefined,
  });
  const toggle = (list: string[], id: string) => (list.includes(id) ? list.filter((x) => x !== id) : [...list, id]);

  return (
    <Dialog
      open
      onClose={onClose}
      title={member ? `Edit ${member.name}` : "Invite a user"}
      footer={<DialogActions onCancel={onClose} onSubmit={submit} busy={busy} submitLabel={member ? "Save" : "Send invitation"} onDelete={remove && perms.can("users:delete") && member?.id !== me?.user.id ? () => void remove() : undefined} deleteLabel="Remove" />}
    >
      <div className="space-y-3">
        <div className="grid gap-3 sm:grid-cols-2">
          <Field label="E-mail" error={f.errors.email}>
            {(p) => <Input {...p} {...f.bind("email")} type="email" disabled={!!member} autoFocus={!member} />}
          </Field>
          <Field label="Name" error={f.errors.name}>
            {(p) => <Input {...p} {...f.bind("name")} />}
          </Field>
        </div>
        {partner && !member && (
          <fieldset className="flex gap-4 text-sm">
            <legend className="mb-1 text-sm font-medium">Kind of user</legend>
            <label className="inline-flex items-center gap-1.5">
              <input type="radio" name="kind" checked={f.values.kind === "partner"} onChange={() => (f.set("kind", "partner"), f.set("role_id", ""))} /> Our staff (technician)
            </label>
            <label className="inline-flex items-center gap-1.5">
              <input type="radio" name="kind" checked={f.values.kind === "organization"} onChange={() => (f.set("kind", "organization"), f.set("role_id", ""))} /> Customer user
            </label>
          </fieldset>
        )}
        <Field label="Role" error={f.errors.role_id}>
          {(p) => (
            <Select {...p} value={f.values.role_id} onChange={(e) => f.set("role_id", e.target.value)}>
              <option value="">Choose…</option>
              {roleChoices.map((r) => (
                <option key={r.id} value={r.id}>
                  {r.name}
                  {r.description ? ` — ${r.description}` : ""}
                </option>
              ))}
            </Select>
          )}
        </Field>
        {f.values.kind === "partner" ? (
          <fieldset className="space-y-2">
            <legend className="mb-1 text-sm font-medium">Organizations this user can reach</legend>
            <Select aria-label="Organization access" value={f.values.org_access} onChange={(e) => f.set("org_access", e.target.value as Values["org_access"])} className="w-auto">
              <option value="all">All organizations</option>
              <option value="selected">Selected organizations</option>
            </Select>
            {f.values.org_access === "selected" && (
              <div className="max-h-40 space-y-1 overflow-y-auto rounded-md border border-border p-2">
                {orgs.data?.map((o) => <Checkbox key={o.id} className="flex" label={o.name} checked={f.values.org_ids.includes(o.id)} onChange={() => f.set("org_ids", toggle(f.values.org_ids, o.id))} />)}
              </div>
            )}
            {f.errors.org_ids && <p className="text-xs font-medium text-danger">{f.errors.org_ids}</p>}
          </fieldset>
        ) : (
          <>
            {partner && !member && (
              <>
              <Field label="Organization" error={f.errors.org_id}>
                {(p) => (
                  <Select {...p} value={f.values.org_id} onChange={(e) => (f.set("org_id", e.target.value), f.set("site_ids", []))}>
                    <Options items={orgs.data} />
                  </Select>
                )}
              </Field>
              <NoOrgsNotice orgs={orgs} />
              </>
            )}
            {(sites.data?.length ?? 0) > 0 && (
              <fieldset>
                <legend className="mb-1 text-sm font-medium">Sites (none ticked = all sites)</legend>
                <div className="max-h-40 space-y-1 overflow-y-auto rounded-md border border-border p-2">
                  {sites.data?.map((s) => <Checkbox key={s.id} className="flex" label={s.name} checked={f.values.site_ids.includes(s.id)} onChange={() => f.set("site_ids", toggle(f.values.site_ids, s.id))} />)}
                </div>
              </fieldset>
            )}
          </>
        )}
        {member && member.status !== "invited" && member.id !== me?.user.id && (
          <Field label="Status" error={f.errors.status}>
            {(p) => (
              <Select {...p} value={f.values.status} onChange={(e) => f.set("status", e.target.value as Values["status"])} className="w-auto">
                <option value="active">Active</option>
                <option value="disabled">Disabled (cannot sign in)</option>
              </Select>
            )}
          </Field>
        )}
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
      </div>
    </Dialog>
  );
}
