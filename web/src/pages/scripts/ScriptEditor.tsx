import { useEffect, useMemo, useState } from "react";
import { useNavigate, useParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { z } from "zod";
import { api } from "../../api/instance";
import type { Script, ScriptParameter } from "../../api/types";
import { Card, CardTitle, PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Checkbox, Field, Input, Select, Textarea } from "../../components/ui/form";
import { ErrorState, Loading, Notice } from "../../components/ui/feedback";
import { Dialog } from "../../components/ui/dialog";
import { useToast } from "../../components/ui/toast";
import { usePerms } from "../../auth/session";
import { serverErrors, useForm } from "../../lib/form";
import { initialValues, normalizeParams } from "../../lib/scriptParams";
import { useOrgScope } from "../../lib/scope";
import { errorMessage } from "../../api/client";
import { CodeEditor } from "./CodeEditor";
import { ParamForm } from "./ParamForm";
import { RunScriptDialog } from "./RunScriptDialog";
import { ScriptTargetPicker, type Target } from "./ScriptTargetPicker";

const schema = z.object({
  name: z.string().trim().min(1, "Name the script.").max(200, "At most 200 characters."),
  description: z.string(),
  category: z.string(),
  language: z.enum(["bash", "powershell", "python", "cmd"]),
  os_types: z.array(z.string()).min(1, "Pick at least one operating system."),
  timeout_seconds: z.string().refine((v) => /^\d+$/.test(v) && Number(v) >= 1 && Number(v) <= 86400, "Between 1 and 86400 seconds."),
  run_as: z.enum(["system", "logged_in_user", "elevated"]),
  content: z.string().refine((v) => v.trim().length > 0, "The script is empty."),
});
type Values = z.infer<typeof schema>;
const FIELDS = ["name", "description", "category", "language", "os_types", "timeout_seconds", "run_as", "content"];

const NEW: Values = { name: "", description: "", category: "", language: "bash", os_types: ["linux"], timeout_seconds: "300", run_as: "system", content: "#!/usr/bin/env bash\nset -euo pipefail\n\n" };

export default function ScriptEditor() {
  const { id } = useParams();
  const q = useQuery({
    queryKey: ["scripts", id],
    queryFn: ({ signal }) => api.GET("/api/v1/scripts/{id}", { params: { path: { id: id ?? "" } }, signal }),
    enabled: !!id,
  });
  if (id && q.isPending) return <Loading />;
  if (id && q.isError) return <ErrorState error={q.error} retry={() => q.refetch()} />;
  return <Editor key={id ?? "new"} script={q.data ?? null} />;
}

function paramValidation(list: ScriptParameter[]): string | null {
  const names = new Set<string>();
  for (const p of list) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p.name)) return `Parameter name “${p.name}” must be letters, digits and _ (not starting with a digit).`;
    if (names.has(p.name)) return `Two parameters are named “${p.name}”.`;
    names.add(p.name);
    if (p.type === "select" && !p.options?.length) return `Give “${p.name}” at least one option.`;
  }
  return null;
}

function Editor({ script }: { script: Script | null }) {
  const perms = usePerms();
  const scope = useOrgScope();
  const toast = useToast();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const canEdit = perms.can("scripts:write");
  const f = useForm<Values>(
    schema,
    script
      ? {
          name: script.name,
          description: script.description ?? "",
          category: script.category ?? "",
          language: (["bash", "powershell", "python", "cmd"].includes(script.language) ? script.language : "bash") as Values["language"],
          os_types: script.os_types ?? [],
          timeout_seconds: String(script.timeout_seconds ?? 300),
          run_as: typeof script.run_as === "string" ? script.run_as : "system",
          content: script.content,
        }
      : NEW,
  );
  const [params, setParams] = useState<ScriptParameter[]>(() => normalizeParams(script?.parameters));
  const [preview, setPreview] = useState(() => initialValues(params));
  const [paramError, setParamError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [picking, setPicking] = useState(false);
  const [target, setTarget] = useState<Target | null>(null);
  const [confirmDelete, setConfirmDelete] = useState(false);
  const previewParams = useMemo(() => params.filter((p) => p.name), [params]);
  useEffect(() => setPreview(initialValues(previewParams)), [previewParams]);

  const save = async () => {
    const v = f.validate();
    const pErr = paramValidation(params);
    setParamError(pErr);
    if (!v || pErr) return;
    setBusy(true);
    try {
      const body = {
        name: v.name,
        description: v.description || null,
        category: v.category || null,
        language: v.language,
        os_types: v.os_types,
        timeout_seconds: Number(v.timeout_seconds),
        run_as: v.run_as,
        content: v.content,
        parameters: params,
        ...(script ? {} : scope.orgId ? { org_id: scope.orgId } : {}),
      };
      const saved = script ? await api.PATCH("/api/v1/scripts/{id}", { params: { path: { id: script.id } }, body }) : await api.POST("/api/v1/scripts", { body });
      void qc.invalidateQueries({ queryKey: ["scripts"] });
      toast(script ? "Script saved." : "Script created.");
      if (!script) navigate(`/scripts/${saved.id}`, { replace: true });
    } catch (e) {
      f.setServerErrors(serverErrors<Values>(e, FIELDS));
    } finally {
      setBusy(false);
    }
  };

  const remove = async () => {
    if (!script) return;
    try {
      await api.DELETE("/api/v1/scripts/{id}", { params: { path: { id: script.id } } });
      void qc.invalidateQueries({ queryKey: ["scripts"] });
      toast("Script deleted.");
      navigate("/scripts");
    } catch (e) {
      toast(errorMessage(e), "danger");
    }
  };

  const setParam = (i: number, patch: Partial<ScriptParameter>) => setParams((ps) => ps.map((p, j) => (j === i ? { ...p, ...patch } : p)));

  return (
    <div className="space-y-4">
      <PageHeader
        title={script ? script.name : "New script"}
        description={script ? `Version ${script.version}` : "Write it once, run it anywhere."}
        actions={
          <>
            {script && perms.can("scripts:execute") && <Button onClick={() => setPicking(true)}>Run…</Button>}
            {canEdit && (
              <Button variant={script ? "secondary" : "primary"} loading={busy} onClick={save}>
                {script ? "Save" : "Create"}
              </Button>
            )}
            {script && canEdit && perms.can("scripts:delete") && (
              <Button variant="danger" onClick={() => setConfirmDelete(true)}>
                Delete
              </Button>
            )}
          </>
        }
      />
      {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
      <div className="grid gap-4 xl:grid-cols-[1fr_22rem]">
        <Card>
          <div className="mb-3 grid gap-3 sm:grid-cols-2">
            <Field label="Name" error={f.errors.name}>
              {(p) => <Input {...p} {...f.bind("name")} disabled={!canEdit} />}
            </Field>
            <Field label="Language" error={f.errors.language}>
              {(p) => (
                <Select {...p} value={f.values.language} onChange={(e) => f.set("language", e.target.value as Values["language"])} disabled={!canEdit}>
                  <option value="bash">Bash</option>
                  <option value="powershell">PowerShell</option>
                  <option value="python">Python</option>
                  <option value="cmd">CMD</option>
                </Select>
              )}
            </Field>
          </div>
          <div className="space-y-1.5">
            <span className="block text-sm font-medium" id="content-label">
              Script
            </span>
            <CodeEditor label="Script content" language={f.values.language} value={f.values.content} onChange={(v) => f.set("content", v)} readOnly={!canEdit} />
            {f.errors.content && (
              <p role="alert" className="text-xs font-medium text-danger">
                {f.errors.content}
              </p>
            )}
            <p className="text-xs text-muted-fg">Parameters reach the script as environment variables named after them.</p>
          </div>
        </Card>
        <div className="space-y-4">
          <Card>
            <CardTitle>Details</CardTitle>
            <div className="space-y-3">
              <Field label="Description" error={f.errors.description}>
                {(p) => <Textarea {...p} rows={2} value={f.values.description} onChange={(e) => f.set("description", e.target.value)} disabled={!canEdit} />}
              </Field>
              <Field label="Category" hint="e.g. maintenance, security, deployment" error={f.errors.category}>
                {(p) => <Input {...p} {...f.bind("category")} disabled={!canEdit} />}
              </Field>
              <fieldset>
                <legend className="mb-1 text-sm font-medium">Runs on</legend>
                <div className="flex flex-wrap gap-3">
                  {["windows", "macos", "linux"].map((os) => (
                    <Checkbox
                      key={os}
                      label={os === "macos" ? "macOS" : os[0].toUpperCase() + os.slice(1)}
                      checked={f.values.os_types.includes(os)}
                      disabled={!canEdit}
                      onChange={(e) => f.set("os_types", e.target.checked ? [...f.values.os_types, os] : f.values.os_types.filter((x) => x !== os))}
                    />
                  ))}
                </div>
                {f.errors.os_types && <p className="mt-1 text-xs font-medium text-danger">{f.errors.os_types}</p>}
              </fieldset>
              <div className="grid grid-cols-2 gap-3">
                <Field label="Timeout (s)" error={f.errors.timeout_seconds}>
                  {(p) => <Input {...p} {...f.bind("timeout_seconds")} inputMode="numeric" disabled={!canEdit} />}
                </Field>
                <Field label="Run as" error={f.errors.run_as}>
                  {(p) => (
                    <Select {...p} value={f.values.run_as} onChange={(e) => f.set("run_as", e.target.value as Values["run_as"])} disabled={!canEdit}>
                      <option value="system">System</option>
                      <option value="elevated">Elevated</option>
                      <option value="logged_in_user">Logged-in user</option>
                    </Select>
                  )}
                </Field>
              </div>
            </div>
          </Card>
          <Card>
            <CardTitle
              action={
                canEdit && (
                  <Button size="sm" variant="secondary" onClick={() => setParams((ps) => [...ps, { name: `param${ps.length + 1}`, type: "string", required: false }])}>
                    Add parameter
                  </Button>
                )
              }
            >
              Parameters
            </CardTitle>
            {params.length === 0 && <p className="text-sm text-muted-fg">None.</p>}
            <ul className="space-y-3">
              {params.map((p, i) => (
                <li key={i} className="space-y-2 rounded-md border border-border p-2">
                  <div className="grid grid-cols-2 gap-2">
                    <Input aria-label="Parameter name" value={p.name} onChange={(e) => setParam(i, { name: e.target.value })} disabled={!canEdit} className="font-mono" />
                    <Select aria-label="Parameter type" value={p.type} onChange={(e) => setParam(i, { type: e.target.value })} disabled={!canEdit}>
                      <option value="string">Text</option>
                      <option value="number">Number</option>
                      <option value="boolean">Yes/no</option>
                      <option value="select">Choice</option>
                    </Select>
                  </div>
                  <Input aria-label="Label" placeholder="Label" value={p.label ?? ""} onChange={(e) => setParam(i, { label: e.target.value })} disabled={!canEdit} />
                  {p.type === "select" && (
                    <Input
                      aria-label="Options (comma separated)"
                      placeholder="Options, comma separated"
                      value={(p.options ?? []).join(",")}
                      onChange={(e) => setParam(i, { options: e.target.value.split(",").map((x) => x.trim()).filter(Boolean) })}
                      disabled={!canEdit}
                    />
                  )}
                  <div className="flex items-center justify-between gap-2">
                    <Input aria-label="Default" placeholder="Default" value={p.default === null || p.default === undefined ? "" : String(p.default)} onChange={(e) => setParam(i, { default: e.target.value })} disabled={!canEdit} className="h-8" />
                    <Checkbox label="Required" checked={!!p.required} onChange={(e) => setParam(i, { required: e.target.checked })} disabled={!canEdit} />
                    {canEdit && (
                      <Button size="sm" variant="ghost" aria-label={`Remove parameter ${p.name}`} onClick={() => setParams((ps) => ps.filter((_, j) => j !== i))}>
                        ✕
                      </Button>
                    )}
                  </div>
                </li>
              ))}
            </ul>
            {paramError && (
              <p role="alert" className="mt-2 text-xs font-medium text-danger">
                {paramError}
              </p>
            )}
            {previewParams.length > 0 && (
              <div className="mt-4 border-t border-border pt-3">
                <p className="mb-2 text-xs font-semibold uppercase tracking-wide text-muted-fg">Form preview</p>
                <ParamForm params={previewParams} values={preview} errors={{}} onChange={setPreview} />
              </div>
            )}
          </Card>
        </div>
      </div>
      {picking && script && !target && <ScriptTargetPicker script={script} onCancel={() => setPicking(false)} onPick={setTarget} />}
      {script && target && (
        <RunScriptDialog
          open
          script={script}
          target={target.target}
          targetLabel={target.label}
          onClose={() => {
            setTarget(null);
            setPicking(false);
          }}
        />
      )}
      <Dialog
        open={confirmDelete}
        onClose={() => setConfirmDelete(false)}
        title="Delete this script?"
        footer={
          <>
            <Button variant="secondary" onClick={() => setConfirmDelete(false)}>
              Cancel
            </Button>
            <Button variant="danger" onClick={remove}>
              Delete
            </Button>
          </>
        }
      >
        <p className="text-sm">Past executions keep their output; the script can no longer be run.</p>
      </Dialog>
    </div>
  );
}
