import { useState } from "react";
import { useQuery } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { ExecuteScript, Script } from "../../api/types";
import { Dialog } from "../../components/ui/dialog";
import { Options } from "../../components/ui/dialog-form";
import { Button } from "../../components/ui/button";
import { Checkbox, Field, Input, Select } from "../../components/ui/form";
import { Loading, Notice } from "../../components/ui/feedback";
import { useGroups, useSites } from "../../lib/queries";
import { useOrgScope } from "../../lib/scope";
import { deviceName, statusLabel } from "../../lib/devices";

export interface Target {
  target: ExecuteScript;
  label: string;
}

/** Choose where a script runs: devices (searched), a device group, or a site. */
export function ScriptTargetPicker({ script, onCancel, onPick }: { script: Script; onCancel: () => void; onPick: (t: Target) => void }) {
  const scope = useOrgScope();
  const [kind, setKind] = useState<"devices" | "group" | "site">("devices");
  const [q, setQ] = useState("");
  const [picked, setPicked] = useState<Map<string, string>>(new Map());
  const [groupId, setGroupId] = useState("");
  const [siteId, setSiteId] = useState("");
  const [error, setError] = useState<string | null>(null);
  const groups = useGroups(scope.orgId);
  const sites = useSites(scope.orgId);
  const devices = useQuery({
    queryKey: ["devices", "picker", scope.orgId, q],
    queryFn: ({ signal }) => api.GET("/api/v1/devices", { params: { query: { org_id: scope.orgId ?? undefined, q: q.trim() || undefined, limit: 25, sort: "hostname" } }, signal }),
    enabled: kind === "devices",
    placeholderData: (p) => p,
  });

  const next = () => {
    if (kind === "devices" && picked.size) onPick({ target: { device_ids: [...picked.keys()] }, label: picked.size === 1 ? [...picked.values()][0] : `${picked.size} devices` });
    else if (kind === "group" && groupId) onPick({ target: { group_ids: [groupId] }, label: `group ${groups.data?.find((g) => g.id === groupId)?.name ?? ""}` });
    else if (kind === "site" && siteId) onPick({ target: { site_ids: [siteId] }, label: `site ${sites.data?.find((s) => s.id === siteId)?.name ?? ""}` });
    else setError(kind === "devices" ? "Pick at least one device." : `Choose a ${kind}.`);
  };

  return (
    <Dialog
      open
      onClose={onCancel}
      title={`Run ${script.name} on…`}
      footer={
        <>
          <Button variant="secondary" onClick={onCancel}>
            Cancel
          </Button>
          <Button onClick={next}>Next</Button>
        </>
      }
    >
      <div className="space-y-4">
        <fieldset className="flex gap-4 text-sm">
          <legend className="sr-only">Target kind</legend>
          {(["devices", "group", "site"] as const).map((k) => (
            <label key={k} className="inline-flex items-center gap-1.5">
              <input type="radio" name="kind" checked={kind === k} onChange={() => (setKind(k), setError(null))} />
              {k === "devices" ? "Devices" : k === "group" ? "Device group" : "Site"}
            </label>
          ))}
        </fieldset>
        {kind === "devices" && (
          <div className="space-y-2">
            <Input type="search" aria-label="Search devices" placeholder="Search devices…" value={q} onChange={(e) => setQ(e.target.value)} autoFocus />
            {devices.isPending ? (
              <Loading />
            ) : (
              <ul className="max-h-64 space-y-1 overflow-y-auto">
                {devices.data?.data.map((d) => (
                  <li key={d.id}>
                    <Checkbox
                      label={
                        <>
                          {deviceName(d)} <span className="text-xs text-muted-fg">{statusLabel(d.status)}</span>
                        </>
                      }
                      checked={picked.has(d.id)}
                      onChange={() =>
                        setPicked((m) => {
                          const n = new Map(m);
                          if (n.has(d.id)) n.delete(d.id);
                          else n.set(d.id, deviceName(d));
                          return n;
                        })
                      }
                    />
                  </li>
                ))}
                {devices.data?.data.length === 0 && <li className="text-sm text-muted-fg">No device matches.</li>}
              </ul>
            )}
            {picked.size > 0 && <p className="text-xs text-muted-fg">{picked.size} selected</p>}
          </div>
        )}
        {kind === "group" && (
          <Field label="Device group">
            {(p) => (
              <Select {...p} value={groupId} onChange={(e) => setGroupId(e.target.value)}>
                <option value="">Choose…</option>
                {groups.data?.map((g) => (
                  <option key={g.id} value={g.id}>
                    {g.name} ({g.member_count})
                  </option>
                ))}
              </Select>
            )}
          </Field>
        )}
        {kind === "site" &&
          (scope.orgId ? (
            <Field label="Site">
              {(p) => (
                <Select {...p} value={siteId} onChange={(e) => setSiteId(e.target.value)}>
                  <Options items={sites.data} />
                </Select>
              )}
            </Field>
          ) : (
            <Notice>Pick an organization in the switcher at the top to choose one of its sites.</Notice>
          ))}
        {error && <Notice tone="danger">{error}</Notice>}
      </div>
    </Dialog>
  );
}
