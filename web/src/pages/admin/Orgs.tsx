import { useState } from "react";
import { useSearchParams } from "react-router";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { api } from "../../api/instance";
import type { Organization, Site } from "../../api/types";
import { Badge, Card, CardTitle, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions, DialogForm } from "../../components/ui/dialog-form";
import { Field, Input, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useSession } from "../../auth/session";
import { isPartnerUser } from "../../auth/permissions";
import { useOrgs, useSites } from "../../lib/queries";
import { useForm } from "../../lib/form";
import { useEditDialog } from "../../lib/editDialog";
import { errorMessage } from "../../api/client";
import { cn } from "../../components/ui/cn";
import { browserTimeZone } from "../../lib/timezones";
import { TimeZoneField } from "../../components/TimeZoneField";

export default function Orgs() {
  const { me, perms } = useSession();
  const partner = isPartnerUser(me);
  const orgs = useOrgs();
  const current = useQuery({
    queryKey: ["orgs", "current"],
    queryFn: ({ signal }) => api.GET("/api/v1/orgs/current", { signal }),
    enabled: !partner,
  });
  const [selected, setSelected] = useState<string | null>(null);
  // `?new=1` (from an empty organization dropdown elsewhere) opens the form at once.
  const [params, setParams] = useSearchParams();
  const [editing, setEditingState] = useState<Organization | "new" | null>(() => (params.get("new") === "1" && partner && perms.can("orgs:write") ? "new" : null));
  const setEditing = (v: Organization | "new" | null) => {
    setEditingState(v);
    if (!v && params.has("new")) setParams({}, { replace: true });
  };
  const list = partner ? orgs : { ...current, data: current.data ? [current.data] : undefined };
  const sel = selected ?? (!partner ? (me?.org_id ?? null) : null);

  return (
    <div className="space-y-4">
      <PageHeader
        title={partner ? "Organizations" : "Organization"}
        description={partner ? "Your customers. Each has sites, and devices belong to a site." : "Your organization and its sites."}
        actions={partner && perms.can("orgs:write") && <Button onClick={() => setEditing("new")}>New organization</Button>}
      />
      {list.isPending ? (
        <Loading />
      ) : list.isError ? (
        <ErrorState error={list.error} retry={() => list.refetch()} />
      ) : !list.data?.length ? (
        <EmptyState title="No organizations yet" action={perms.can("orgs:write") && <Button onClick={() => setEditing("new")}>Create the first one</Button>}>
          Create an organization for each customer (or one for your own company).
        </EmptyState>
      ) : (
        <div className="grid gap-4 lg:grid-cols-[1fr_1fr]">
          <Table>
            <thead>
              <tr>
                <Th>Name</Th>
                <Th>Status</Th>
                <Th className="hidden md:table-cell">Type</Th>
                <ActionsTh />
              </tr>
            </thead>
            <tbody>
              {list.data.map((o) => (
                <tr key={o.id} className={cn(sel === o.id && "bg-primary/5")}>
                  <Td>
                    <button type="button" className="font-medium text-primary hover:underline" onClick={() => setSelected(o.id)} aria-pressed={sel === o.id}>
                      {o.name}
                    </button>
                    <p className="text-xs text-muted-fg">{o.slug}</p>
                  </Td>
                  <Td>
                    <Badge tone={o.status === "active" ? "ok" : o.status === "suspended" || o.status === "churned" ? "danger" : "warn"}>{o.status}</Badge>
                  </Td>
                  <Td className="hidden md:table-cell">{o.type}</Td>
                  <Td className="text-right">
                    {perms.can("orgs:write") && (
                      <Button size="sm" variant="ghost" onClick={() => setEditing(o)}>
                        Edit
                      </Button>
                    )}
                  </Td>
                </tr>
              ))}
            </tbody>
          </Table>
          {sel ? <SitesPanel org={list.data.find((o) => o.id === sel) ?? null} /> : <EmptyState title="Pick an organization">Its sites appear here.</EmptyState>}
        </div>
      )}
      {editing && <OrgDialog org={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
    </div>
  );
}

const orgSchema = z.object({
  name: z.string().trim().min(1, "Enter a name."),
  slug: z.string().trim().regex(/^([a-z0-9][a-z0-9-]*)?$/, "Lowercase letters, digits and dashes."),
  status: z.enum(["active", "trial", "suspended", "churned"]),
  max_devices: z.string().refine((v) => v === "" || /^\d+$/.test(v), "A number, or empty for no limit."),
});
type OrgValues = z.infer<typeof orgSchema>;

function OrgDialog({ org, onClose }: { org: Organization | null; onClose: () => void }) {
  const { perms } = useSession();
  const f = useForm<OrgValues>(orgSchema, {
    name: org?.name ?? "",
    slug: org?.slug ?? "",
    status: (org?.status as OrgValues["status"]) ?? "active",
    max_devices: org?.max_devices ? String(org.max_devices) : "",
  });
  const { busy, submit, remove } = useEditDialog({
    form: f,
    fields: ["name", "slug", "status", "max_devices"],
    invalidate: "orgs",
    onDone: onClose,
    save: async (v) => {
      const body = { name: v.name, ...(v.slug ? { slug: v.slug } : {}), status: v.status, max_devices: v.max_devices ? Number(v.max_devices) : null };
      if (org) await api.PATCH("/api/v1/orgs/{id}", { params: { path: { id: org.id } }, body });
      else await api.POST("/api/v1/orgs", { body });
      return org ? "Organization saved." : "Organization created.";
    },
    remove: org
      ? async () => {
          await api.DELETE("/api/v1/orgs/{id}", { params: { path: { id: org.id } } });
          return "Organization deleted.";
        }
      : undefined,
  });
  return (
    <Dialog
      open
      onClose={onClose}
      title={org ? `Edit ${org.name}` : "New organization"}
      footer={<DialogActions onCancel={onClose} onSubmit={submit} busy={busy} submitLabel={org ? "Save" : "Create"} onDelete={remove && perms.can("orgs:delete") ? () => void remove() : undefined} />}
    >
      <DialogForm onSubmit={() => void submit()}>
        <Field label="Name" error={f.errors.name}>
          {(p) => <Input {...p} {...f.bind("name")} autoFocus />}
        </Field>
        <Field label="Slug" hint="Used in URLs; generated from the name when empty." error={f.errors.slug}>
          {(p) => <Input {...p} {...f.bind("slug")} className="font-mono" />}
        </Field>
        <div className="grid grid-cols-2 gap-3">
          <Field label="Status" error={f.errors.status}>
            {(p) => (
              <Select {...p} value={f.values.status} onChange={(e) => f.set("status", e.target.value as OrgValues["status"])}>
                <option value="active">Active</option>
                <option value="trial">Trial</option>
                <option value="suspended">Suspended</option>
                <option value="churned">Churned</option>
              </Select>
            )}
          </Field>
          <Field label="Device limit" error={f.errors.max_devices}>
            {(p) => <Input {...p} {...f.bind("max_devices")} inputMode="numeric" placeholder="No limit" />}
          </Field>
        </div>
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
      </DialogForm>
    </Dialog>
  );
}

function SitesPanel({ org }: { org: Organization | null }) {
  const { perms } = useSession();
  const qc = useQueryClient();
  const sites = useSites(org?.id);
  const [editing, setEditing] = useState<Site | "new" | null>(null);
  const del = useMutation({
    mutationFn: (s: Site) => api.DELETE("/api/v1/sites/{id}", { params: { path: { id: s.id } } }),
    onSuccess: () => void qc.invalidateQueries({ queryKey: ["sites"] }),
  });
  if (!org) return null;
  return (
    <Card>
      <CardTitle action={perms.can("sites:write") && <Button size="sm" onClick={() => setEditing("new")}>New site</Button>}>Sites of {org.name}</CardTitle>
      {sites.isPending ? (
        <Loading />
      ) : sites.isError ? (
        <ErrorState error={sites.error} retry={() => sites.refetch()} />
      ) : sites.data.length === 0 ? (
        <p className="text-sm text-muted-fg">No sites yet. Devices enroll into a site, so create one first.</p>
      ) : (
        <ul className="divide-y divide-border">
          {sites.data.map((s) => (
            <li key={s.id} className="flex items-center justify-between gap-2 py-2 text-sm">
              <span>
                <span className="font-medium">{s.name}</span> <span className="text-xs text-muted-fg">{s.timezone}</span>
              </span>
              <span className="flex gap-1">
                {perms.can("sites:write") && (
                  <Button size="sm" variant="ghost" onClick={() => setEditing(s)}>
                    Edit
                  </Button>
                )}
                {perms.can("sites:delete") && (
                  <Button size="sm" variant="ghost" onClick={() => del.mutate(s)} aria-label={`Delete site ${s.name}`}>
                    Delete
                  </Button>
                )}
              </span>
            </li>
          ))}
        </ul>
      )}
      {del.isError && <Notice tone="danger">{errorMessage(del.error)}</Notice>}
      {editing && <SiteDialog orgId={org.id} site={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
    </Card>
  );
}

const siteSchema = z.object({
  name: z.string().trim().min(1, "Enter a name."),
  timezone: z.string().trim().min(1, "Choose a time zone."),
});
type SiteValues = z.infer<typeof siteSchema>;

function SiteDialog({ orgId, site, onClose }: { orgId: string; site: Site | null; onClose: () => void }) {
  const f = useForm<SiteValues>(siteSchema, { name: site?.name ?? "", timezone: site?.timezone ?? browserTimeZone() });
  const { busy, submit } = useEditDialog({
    form: f,
    fields: ["name", "timezone"],
    invalidate: "sites",
    onDone: onClose,
    save: async (v) => {
      if (site) await api.PATCH("/api/v1/sites/{id}", { params: { path: { id: site.id } }, body: v });
      else await api.POST("/api/v1/orgs/{id}/sites", { params: { path: { id: orgId } }, body: v });
      return site ? "Site saved." : "Site created.";
    },
  });
  return (
    <Dialog
      open
      onClose={onClose}
      title={site ? `Edit ${site.name}` : "New site"}
      footer={<DialogActions onCancel={onClose} onSubmit={submit} busy={busy} submitLabel={site ? "Save" : "Create"} />}
    >
      <DialogForm onSubmit={() => void submit()}>
        <Field label="Name" error={f.errors.name}>
          {(p) => <Input {...p} {...f.bind("name")} autoFocus />}
        </Field>
        <TimeZoneField value={f.values.timezone} onChange={(v) => f.set("timezone", v)} error={f.errors.timezone} />
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
      </DialogForm>
    </Dialog>
  );
}
