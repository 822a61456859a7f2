import { useMemo, useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { z } from "zod";
import { api } from "../../api/instance";
import type { DeviceGroup } from "../../api/types";
import { Badge, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { DialogActions, Options } from "../../components/ui/dialog-form";
import { Field, Input, Select } from "../../components/ui/form";
import { EmptyState, ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { usePerms } from "../../auth/session";
import { useOrgScope } from "../../lib/scope";
import { ALL, fetchAll, useGroups, useOrgs, useSites } from "../../lib/queries";
import { useForm } from "../../lib/form";
import { useEditDialog } from "../../lib/editDialog";
import { emptyCondition, fromJson, matches, toJson, validateRules, type RuleSet } from "../../lib/rules";
import { errorMessage } from "../../api/client";
import { RuleBuilder } from "./RuleBuilder";
import { NoOrgsNotice } from "../../components/NoOrgsNotice";
import { Link } from "react-router";

export default function DeviceGroups() {
  const perms = usePerms();
  const scope = useOrgScope();
  const groups = useGroups(scope.orgId);
  const [editing, setEditing] = useState<DeviceGroup | "new" | null>(null);
  return (
    <div>
      <PageHeader
        title="Device groups"
        description="Static groups hold the devices you add; dynamic groups follow rules and keep themselves up to date."
        actions={perms.can("device_groups:write") && <Button onClick={() => setEditing("new")}>New group</Button>}
      />
      {groups.isPending ? (
        <Loading />
      ) : groups.isError ? (
        <ErrorState error={groups.error} retry={() => groups.refetch()} />
      ) : groups.data.length === 0 ? (
        <EmptyState title="No device groups">Group devices to run scripts and policies on many at once.</EmptyState>
      ) : (
        <Table>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>Type</Th>
              <Th>Devices</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {groups.data.map((g) => (
              <tr key={g.id}>
                <Td>
                  <Link to={`/devices?group=${g.id}`} className="font-medium text-primary hover:underline">
                    {g.name}
                  </Link>
                </Td>
                <Td>
                  <Badge tone={g.type === "dynamic" ? "primary" : "muted"}>{g.type}</Badge>
                </Td>
                <Td>{g.member_count}</Td>
                <Td className="text-right">
                  {perms.can("device_groups:write") && (
                    <Button size="sm" variant="ghost" onClick={() => setEditing(g)}>
                      Edit
                    </Button>
                  )}
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {editing && <GroupDialog group={editing === "new" ? null : editing} onClose={() => setEditing(null)} />}
    </div>
  );
}

const schema = z.object({
  name: z.string().trim().min(1, "Name the group."),
  org_id: z.string().min(1, "Choose an organization."),
  site_id: z.string(),
  type: z.enum(["static", "dynamic"]),
});
type Values = z.infer<typeof schema>;

/** How many of the organization's devices match the rules, computed as the rules change. */
function usePreviewCount(orgId: string, rules: RuleSet, enabled: boolean) {
  const devices = useQuery({
    queryKey: ["devices", "rule-preview", orgId],
    queryFn: ({ signal }) => fetchAll((cursor) => api.GET("/api/v1/devices", { params: { query: { org_id: orgId, limit: ALL, cursor } }, signal }), 10_000),
    enabled: enabled && !!orgId,
    staleTime: 60_000,
  });
  const count = useMemo(() => (devices.data && validateRules(rules).size === 0 ? devices.data.filter((d) => matches(d, rules)).length : null), [devices.data, rules]);
  return { devices, count };
}

function GroupDialog({ group, onClose }: { group: DeviceGroup | null; onClose: () => void }) {
  const scope = useOrgScope();
  const perms = usePerms();
  const orgs = useOrgs();
  const f = useForm<Values>(schema, { name: group?.name ?? "", org_id: group?.org_id ?? scope.orgId ?? "", site_id: group?.site_id ?? "", type: (group?.type as Values["type"]) ?? "static" });
  const sites = useSites(f.values.org_id || null);
  const [rules, setRules] = useState<RuleSet>(() => (group ? fromJson(group.rules) : null) ?? { match: "all", conditions: [emptyCondition()] });
  const unreadable = !!group && group.type === "dynamic" && !fromJson(group.rules);
  const [showRuleErrors, setShowRuleErrors] = useState(false);
  const dynamic = f.values.type === "dynamic";
  const preview = usePreviewCount(f.values.org_id, rules, dynamic);

  const { busy, submit, remove } = useEditDialog({
    form: f,
    fields: ["name", "org_id", "site_id", "type"],
    invalidate: "device-groups",
    onDone: onClose,
    precheck: () => {
      setShowRuleErrors(true);
      return !dynamic || validateRules(rules).size === 0;
    },
    save: async (v) => {
      if (group) await api.PATCH("/api/v1/device-groups/{id}", { params: { path: { id: group.id } }, body: { name: v.name, ...(dynamic ? { rules: toJson(rules) } : {}) } });
      else
        await api.POST("/api/v1/device-groups", {
          body: {
            name: v.name,
            org_id: v.org_id,
            ...(v.site_id ? { site_id: v.site_id } : {}),
            type: v.type,
            ...(dynamic ? { rules: toJson(rules) } : {}),
          },
        });
      return group ? "Group saved." : "Group created.";
    },
    remove: group
      ? async () => {
          await api.DELETE("/api/v1/device-groups/{id}", { params: { path: { id: group.id } } });
          return "Group deleted.";
        }
      : undefined,
  });
  return (
    <Dialog
      open
      wide={dynamic}
      onClose={onClose}
      title={group ? `Edit ${group.name}` : "New device group"}
      footer={<DialogActions onCancel={onClose} onSubmit={submit} busy={busy} submitLabel={group ? "Save" : "Create"} onDelete={remove && perms.can("device_groups:delete") ? () => void remove() : undefined} />}
    >
      <div className="space-y-3">
        <Field label="Name" error={f.errors.name}>
          {(p) => <Input {...p} {...f.bind("name")} autoFocus />}
        </Field>
        {!group && (
          <div className="grid gap-3 sm:grid-cols-3">
            {scope.canSwitch && (
              <>
              <Field label="Organization" error={f.errors.org_id}>
                {(p) => (
                  <Select {...p} value={f.values.org_id} onChange={(e) => (f.set("org_id", e.target.value), f.set("site_id", ""))}>
                    <Options items={orgs.data} />
                  </Select>
                )}
              </Field>
              <NoOrgsNotice orgs={orgs} />
              </>
            )}
            <Field label="Site (optional)" error={f.errors.site_id}>
              {(p) => (
                <Select {...p} value={f.values.site_id} onChange={(e) => f.set("site_id", e.target.value)} disabled={!f.values.org_id}>
                  <Options items={sites.data} placeholder="All sites" />
                </Select>
              )}
            </Field>
            <Field label="Type" error={f.errors.type}>
              {(p) => (
                <Select {...p} value={f.values.type} onChange={(e) => f.set("type", e.target.value as Values["type"])}>
                  <option value="static">Static</option>
                  <option value="dynamic">Dynamic (rules)</option>
                </Select>
              )}
            </Field>
          </div>
        )}
        {dynamic && (
          <>
            {unreadable && <Notice tone="warn">This group's stored rules use a form this editor does not know; saving replaces them.</Notice>}
            <RuleBuilder value={rules} onChange={setRules} sites={sites.data ?? []} showErrors={showRuleErrors} />
            <p className="text-sm" aria-live="polite">
              {!f.values.org_id
                ? "Choose an organization to preview."
                : preview.devices.isPending
                  ? "Counting matching devices…"
                  : preview.devices.isError
                    ? `Preview unavailable: ${errorMessage(preview.devices.error)}`
                    : preview.count === null
                      ? "Complete the conditions to preview."
                      : (
                          <>
                            <strong>{preview.count}</strong> of {preview.devices.data?.length} devices match now.
                          </>
                        )}
            </p>
          </>
        )}
        {!dynamic && !group && <p className="text-sm text-muted-fg">Add devices from the Devices list: select them, then “Add to group”.</p>}
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
      </div>
    </Dialog>
  );
}
