import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { z } from "zod";
import { api } from "../../api/instance";
import type { Role } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions } from "../../components/ui/dialog-form";
import { Field, Input, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { useSession } from "../../auth/session";
import { isPartnerUser } from "../../auth/permissions";
import { useRoles } from "../../lib/queries";
import { useForm } from "../../lib/form";
import { useEditDialog } from "../../lib/editDialog";
import { matrixOf, permissionHint, togglePermission } from "../../lib/permissionMatrix";

export default function Roles() {
  const { perms } = useSession();
  const roles = useRoles();
  const [editing, setEditing] = useState<Role | "new" | null>(null);
  return (
    <div>
      <PageHeader title="Roles" description="Built-in roles cover most teams; custom roles pick exactly which permissions they grant." actions={perms.can("roles:write") && <Button onClick={() => setEditing("new")}>New role</Button>} />
      {roles.isPending ? (
        <Loading />
      ) : roles.isError ? (
        <ErrorState error={roles.error} retry={() => roles.refetch()} />
      ) : roles.data.length === 0 ? (
        <EmptyState title="No roles" />
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>For</Th>
              <Th className="hidden md:table-cell">Permissions</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {roles.data.map((r) => (
              <tr key={r.id}>
                <Td>
                  <span className="font-medium">{r.name}</span> {r.is_system && <Badge>built-in</Badge>}
                  {r.description && <p className="text-xs text-muted-fg">{r.description}</p>}
                </Td>
                <Td>{r.scope === "partner" ? "Staff" : "Customer users"}</Td>
                <Td className="hidden md:table-cell">{r.permissions.length}</Td>
                <Td className="text-right">
                  <Button size="sm" variant="ghost" onClick={() => setEditing(r)}>
                    {r.is_system || !perms.can("roles:write") ? "View" : "Edit"}
                  </Button>
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {editing && <RoleDialog role={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
    </div>
  );
}

const schema = z.object({
  name: z.string().trim().min(1, "Name the role."),
  description: z.string(),
  scope: z.enum(["partner", "organization"]),
  permissions: z.array(z.string()).min(1, "Grant at least one permission."),
});
type Values = z.infer<typeof schema>;

function RoleDialog({ role, onClose }: { role: Role | null; onClose: () => void }) {
  const { me, perms } = useSession();
  const readOnly = !!role?.is_system || !perms.can("roles:write");
  const all = useQuery({ queryKey: ["permissions"], queryFn: ({ signal }) => api.GET("/api/v1/permissions", { signal }), staleTime: Infinity });
  const list = useMemo(() => all.data?.data ?? [], [all.data]);
  const f = useForm<Values>(schema, {
    name: role?.name ?? "",
    description: role?.description ?? "",
    scope: (role?.scope as Values["scope"]) ?? (isPartnerUser(me) ? "partner" : "organization"),
    permissions: role?.permissions ?? [],
  });
  // Only what the user holds can be granted (the server enforces the same rule).
  const matrix = useMemo(() => matrixOf(list.filter((p) => f.values.scope === "partner" || p.resource !== "partners")), [list, f.values.scope]);
  const { busy, submit, remove } = useEditDialog({
    form: f,
    fields: ["name", "description", "scope", "permissions"],
    invalidate: "roles",
    onDone: onClose,
    save: async (v) => {
      if (role) await api.PATCH("/api/v1/roles/{id}", { params: { path: { id: role.id } }, body: { name: v.name, description: v.description || null, permissions: v.permissions } });
      else await api.POST("/api/v1/roles", { body: { name: v.name, description: v.description || null, scope: v.scope, permissions: v.permissions } });
      return role ? "Role saved." : "Role created.";
    },
    remove: role
      ? async () => {
          await api.DELETE("/api/v1/roles/{id}", { params: { path: { id: role.id } } });
          return "Role deleted.";
        }
      : undefined,
  });
  return (
    <Dialog
      open
      wide
      onClose={onClose}
      title={role ? role.name : "New role"}
      footer={
        readOnly ? (
          <Button onClick={onClose}>Close</Button>
        ) : (
          <DialogActions onCancel={onClose} onSubmit={submit} busy={busy} submitLabel={role ? "Save" : "Create"} onDelete={remove && perms.can("roles:delete") ? () => void remove() : undefined} />
        )
      }
    >
      <div className="space-y-3">
        {role?.is_system && <Notice>Built-in roles cannot be changed. Create a custom role to adjust permissions.</Notice>}
        <div className="grid gap-3 sm:grid-cols-3">
          <Field label="Name" error={f.errors.name} className="sm:col-span-1">
            {(p) => <Input {...p} {...f.bind("name")} disabled={readOnly} autoFocus={!readOnly} />}
          </Field>
          <Field label="Description" error={f.errors.description} className="sm:col-span-1">
            {(p) => <Input {...p} {...f.bind("description")} disabled={readOnly} />}
          </Field>
          <Field label="For" error={f.errors.scope}>
            {(p) => (
              <Select {...p} value={f.values.scope} onChange={(e) => f.set("scope", e.target.value as Values["scope"])} disabled={readOnly || !!role || !isPartnerUser(me)}>
                <option value="partner">Staff (partner)</option>
                <option value="organization">Customer users (organization)</option>
              </Select>
            )}
          </Field>
        </div>
        {all.isPending ? (
          <Loading />
        ) : all.isError ? (
          <ErrorState error={all.error} />
        ) : (
          <div className="overflow-x-auto rounded-md border border-border">
            <table className="w-full text-sm">
              <caption className="sr-only">Permission matrix</caption>
              <thead>
                <tr>
                  <th scope="col" className="bg-muted/60 px-3 py-2 text-left text-xs text-muted-fg">
                    Resource
                  </th>
                  {matrix.actions.map((a) => (
                    <th key={a} scope="col" className="bg-muted/60 px-3 py-2 text-xs text-muted-fg">
                      {a}
                    </th>
                  ))}
                </tr>
              </thead>
              <tbody>
                {matrix.resources.map((r) => (
                  <tr key={r} className="border-t border-border">
                    <th scope="row" className="px-3 py-1.5 text-left font-medium">
                      {r.replace(/_/g, " ")}
                    </th>
                    {matrix.actions.map((a) => {
                      const p = `${r}:${a}`;
                      const exists = matrix.has(p);
                      const grantable = perms.can(p as never);
                      return (
                        <td key={a} className="px-3 py-1.5 text-center">
                          {exists && (
                            <input
                              type="checkbox"
                              className="size-4"
                              aria-label={`${r} ${a}`}
                              checked={f.values.permissions.includes(p)}
                              disabled={readOnly || !grantable}
                              title={!grantable ? "You cannot grant a permission you do not hold." : permissionHint(p)}
                              onChange={() => f.set("permissions", togglePermission(f.values.permissions, p))}
                            />
                          )}
                        </td>
                      );
                    })}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <p className="text-xs text-muted-fg">
          Devices: <strong>write</strong> edits display names and tags; <strong>admin</strong> moves devices between sites, quarantines them, sets
          maintenance, reactivates them and adds pending devices; <strong>execute</strong> queues commands; <strong>delete</strong> decommissions.
        </p>
        {f.errors.permissions && <p className="text-xs font-medium text-danger">{f.errors.permissions}</p>}
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
      </div>
    </Dialog>
  );
}
