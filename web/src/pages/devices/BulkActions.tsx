import { useState } from "react";
import { api } from "../../api/instance";
import type { Device, DeviceGroup, Site } from "../../api/types";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { Field, Input, Select } from "../../components/ui/form";
import { Notice } from "../../components/ui/feedback";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { forEachLimited, patchDevice } from "../../lib/devices";
import { errorMessage } from "../../api/client";
import { RunScriptDialog } from "../scripts/RunScriptDialog";

type Action = "tag" | "site" | "group" | "script" | null;

export function BulkActions({ devices, orgId, sites, groups, onDone }: { devices: Device[]; orgId: string | null; sites: Site[]; groups: DeviceGroup[]; onDone: () => void }) {
  const perms = usePerms();
  const toast = useToast();
  const [action, setAction] = useState<Action>(null);
  const [value, setValue] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const ids = devices.map((d) => d.id);
  const staticGroups = groups.filter((g) => g.type !== "dynamic");
  const oneOrg = new Set(devices.map((d) => d.org_id)).size === 1;

  const open = (a: Action) => {
    setAction(a);
    setValue("");
    setError(null);
  };

  const apply = async () => {
    if (!value.trim()) {
      setError(action === "tag" ? "Enter a tag." : "Choose one.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      let failed = 0;
      if (action === "tag") {
        const tag = value.trim();
        failed = await forEachLimited(devices.filter((d) => !d.tags?.includes(tag)), (d) => patchDevice(d.id, { tags: [...(d.tags ?? []), tag] }));
      } else if (action === "site") {
        failed = await forEachLimited(devices, (d) => patchDevice(d.id, { site_id: value }));
      } else if (action === "group") {
        await api.POST("/api/v1/device-groups/{id}/members", { params: { path: { id: value } }, body: { device_ids: ids } });
      }
      if (failed) setError(`${failed} of ${devices.length} devices could not be changed.`);
      else {
        toast(`Updated ${devices.length} device${devices.length === 1 ? "" : "s"}.`);
        setAction(null);
        onDone();
      }
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="mb-3 flex flex-wrap items-center gap-2 rounded-lg border border-primary/40 bg-primary/5 px-3 py-2 text-sm" role="region" aria-label="Bulk actions">
      <strong>{devices.length} selected</strong>
      {perms.can("scripts:execute") && (
        <Button size="sm" onClick={() => open("script")}>
          Run script
        </Button>
      )}
      {perms.can("devices:write") && (
        <Button size="sm" variant="secondary" onClick={() => open("tag")}>
          Add tag
        </Button>
      )}
      {perms.can("devices:admin") && oneOrg && sites.length > 1 && (
        <Button size="sm" variant="secondary" onClick={() => open("site")}>
          Move to site
        </Button>
      )}
      {perms.can("device_groups:write") && oneOrg && staticGroups.length > 0 && (
        <Button size="sm" variant="secondary" onClick={() => open("group")}>
          Add to group
        </Button>
      )}
      <Button size="sm" variant="ghost" onClick={onDone}>
        Clear selection
      </Button>

      {action === "script" && <RunScriptDialog open onClose={() => setAction(null)} target={{ device_ids: ids }} targetLabel={`${ids.length} selected devices`} />}
      <Dialog
        open={action === "tag" || action === "site" || action === "group"}
        onClose={() => setAction(null)}
        title={action === "tag" ? "Add a tag" : action === "site" ? "Move to site" : "Add to group"}
        footer={
          <>
            <Button variant="secondary" onClick={() => setAction(null)}>
              Cancel
            </Button>
            <Button loading={busy} onClick={apply}>
              Apply to {devices.length}
            </Button>
          </>
        }
      >
        <div className="space-y-3">
          {action === "tag" && (
            <Field label="Tag" error={error}>
              {(p) => <Input {...p} value={value} onChange={(e) => setValue(e.target.value)} autoFocus />}
            </Field>
          )}
          {action === "site" && (
            <Field label="Site" error={error}>
              {(p) => (
                <Select {...p} value={value} onChange={(e) => setValue(e.target.value)}>
                  <option value="">Choose a site…</option>
                  {sites
                    .filter((s) => !orgId || s.org_id === orgId)
                    .map((s) => (
                      <option key={s.id} value={s.id}>
                        {s.name}
                      </option>
                    ))}
                </Select>
              )}
            </Field>
          )}
          {action === "group" && (
            <Field label="Static group" error={error}>
              {(p) => (
                <Select {...p} value={value} onChange={(e) => setValue(e.target.value)}>
                  <option value="">Choose a group…</option>
                  {staticGroups
                    .filter((g) => !orgId || g.org_id === orgId)
                    .map((g) => (
                      <option key={g.id} value={g.id}>
                        {g.name}
                      </option>
                    ))}
                </Select>
              )}
            </Field>
          )}
          {error && action !== "tag" && action !== "site" && action !== "group" && <Notice tone="danger">{error}</Notice>}
        </div>
      </Dialog>
    </div>
  );
}
