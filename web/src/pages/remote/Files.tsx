// The file manager: browse the device's files (paths resolved on the agent, under the device's
// allowed root when one is set), upload with progress and resume, download, rename, make a
// folder, delete with a confirmation.
import { useRef, useState, type ReactNode } from "react";
import { Link, useParams, useSearchParams } from "react-router";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import { PageHeader } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { Field, Input } from "../../components/ui/form";
import { EmptyState, Loading, Notice } from "../../components/ui/feedback";
import { ActionsTh, Table, Td, Th } from "../../components/ui/table";
import { deviceName } from "../../lib/devices";
import { formatDateTime } from "../../lib/format";
import { deleteFile, downloadFile, listFiles, makeDirectory, renameFile, uploadIo } from "../../lib/remoteApi";
import { breadcrumbs, fileErrorText, formatSize, joinPath, modeString, nameProblem, parentPath, percent, sortEntries } from "../../lib/remoteFiles";
import { fileSource, upload, type UploadProgress } from "../../lib/remoteUpload";
import type { FileEntry } from "../../api/types";

interface UploadItem {
  key: number;
  file: File;
  path: string;
  progress: UploadProgress | null;
  state: "running" | "done" | "failed" | "cancelled";
  message: string | null;
  abort: AbortController;
}

type Pending = { kind: "mkdir" } | { kind: "rename"; entry: FileEntry } | { kind: "delete"; entry: FileEntry } | { kind: "exists"; file: File; entry: FileEntry };

export default function FilesPage() {
  const { id = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const path = params.get("path") ?? "";
  const qc = useQueryClient();
  const device = useQuery({
    queryKey: ["device", id],
    queryFn: ({ signal }) => api.GET("/api/v1/devices/{id}", { params: { path: { id } }, signal }),
  });
  const listing = useQuery({
    queryKey: ["device-files", id, path],
    queryFn: ({ signal }) => listFiles(id, path, signal),
    retry: false,
  });
  const [pending, setPending] = useState<Pending | null>(null);
  const [actionError, setActionError] = useState<string | null>(null);
  const [uploads, setUploads] = useState<UploadItem[]>([]);
  const nextKey = useRef(1);
  const input = useRef<HTMLInputElement>(null);

  const dir = listing.data?.path ?? path;
  const go = (p: string) => {
    setActionError(null);
    setParams(p ? { path: p } : {});
  };
  const refresh = () => qc.invalidateQueries({ queryKey: ["device-files", id] });

  const patch = (key: number, p: Partial<UploadItem>) => setUploads((us) => us.map((u) => (u.key === key ? { ...u, ...p } : u)));
  const run = (item: UploadItem, resume: boolean) => {
    patch(item.key, { state: "running", message: null, progress: null });
    upload(fileSource(item.file), item.path, uploadIo(id), { resume, signal: item.abort.signal, onProgress: (p) => patch(item.key, { progress: p }) })
      .then((r) => {
        patch(item.key, { state: "done", message: r.restarted ? "The part on the device was another file's: sent again from the start." : r.resumedFrom > 0 ? `Resumed at ${formatSize(r.resumedFrom)}.` : null });
        void refresh();
      })
      .catch((e: unknown) => {
        if (item.abort.signal.aborted) patch(item.key, { state: "cancelled", message: "Cancelled. Resume continues where it stopped." });
        else patch(item.key, { state: "failed", message: fileErrorText(e) });
        void refresh();
      });
  };
  const start = (file: File, resume: boolean) => {
    const item: UploadItem = { key: nextKey.current++, file, path: joinPath(dir, file.name), progress: null, state: "running", message: null, abort: new AbortController() };
    setUploads((us) => [item, ...us]);
    run(item, resume);
  };
  const retry = (item: UploadItem) => {
    const again = { ...item, abort: new AbortController() };
    setUploads((us) => us.map((u) => (u.key === item.key ? again : u)));
    run(again, true);
  };
  const picked = (files: FileList | null) => {
    const list = [...(files ?? [])];
    if (input.current) input.current.value = "";
    for (const file of list) {
      const existing = listing.data?.entries.find((e) => e.name === file.name);
      if (existing && existing.type === "file") setPending({ kind: "exists", file, entry: existing });
      else start(file, true);
    }
  };

  const download = async (e: FileEntry) => {
    setActionError(null);
    try {
      const blob = await downloadFile(id, joinPath(dir, e.name));
      const url = URL.createObjectURL(blob);
      const a = document.createElement("a");
      a.href = url;
      a.download = e.name;
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 30_000);
    } catch (err) {
      setActionError(`Download of ${e.name} failed: ${fileErrorText(err)}`);
    }
  };

  const name = device.data ? deviceName(device.data) : id;
  const crumbs = breadcrumbs(dir);
  const entries = listing.data ? sortEntries(listing.data.entries) : [];
  return (
    <div className="space-y-3">
      <nav aria-label="Breadcrumb" className="text-sm text-muted-fg">
        <Link to="/devices" className="hover:underline">
          Devices
        </Link>{" "}
        /{" "}
        <Link to={`/devices/${id}`} className="hover:underline">
          {name}
        </Link>{" "}
        / Files
      </nav>
      <PageHeader
        title={`Files: ${name}`}
        description={device.data && device.data.status !== "online" ? `The device is ${device.data.status}: its files can be reached only while it is online.` : undefined}
        actions={
          <>
            <Button variant="secondary" onClick={() => void refresh()}>
              Refresh
            </Button>
            <Button variant="secondary" onClick={() => setPending({ kind: "mkdir" })} disabled={!listing.data}>
              New folder
            </Button>
            <label className={`inline-flex h-9 cursor-pointer items-center rounded-md bg-primary px-4 text-sm font-medium text-primary-fg hover:opacity-90 ${listing.data ? "" : "pointer-events-none opacity-50"}`}>
              Upload files
              <input ref={input} type="file" multiple className="sr-only" aria-label="Upload files" disabled={!listing.data} onChange={(e) => picked(e.target.files)} />
            </label>
          </>
        }
      />
      <GoTo current={dir} onGo={go} />
      <nav aria-label="Folder" className="flex flex-wrap items-center gap-1 font-mono text-sm">
        <Button size="sm" variant="ghost" disabled={crumbs.length < 2} onClick={() => go(parentPath(dir))} aria-label="Up one folder">
          ↑
        </Button>
        {crumbs.length === 0 && <span className="text-muted-fg">(start folder)</span>}
        {crumbs.map((c, i) => (
          <span key={c.path} className="inline-flex items-center gap-1">
            {i > 1 && <span className="text-muted-fg">/</span>}
            {i === crumbs.length - 1 ? (
              <span aria-current="page" className="font-semibold">
                {c.label}
              </span>
            ) : (
              <button type="button" className="text-primary hover:underline" onClick={() => go(c.path)}>
                {c.label}
              </button>
            )}
          </span>
        ))}
      </nav>
      {actionError && <Notice tone="danger">{actionError}</Notice>}
      {listing.data?.truncated && <Notice tone="warn">This folder holds more entries than one listing shows; only the first {listing.data.entries.length} are listed.</Notice>}
      {uploads.length > 0 && <Uploads items={uploads} onResume={retry} onCancel={(u) => u.abort.abort()} onClear={() => setUploads((us) => us.filter((u) => u.state === "running"))} />}
      {listing.isPending ? (
        <Loading label="Listing the folder…" />
      ) : listing.isError ? (
        <div role="alert" className="rounded-lg border border-danger/40 bg-danger/5 p-4 text-sm">
          <p className="font-semibold text-danger">Could not list {path || "the start folder"}</p>
          <p className="mt-1">{fileErrorText(listing.error)}</p>
          <div className="mt-3 flex gap-2">
            <Button size="sm" variant="secondary" onClick={() => void listing.refetch()}>
              Try again
            </Button>
            {path && (
              <Button size="sm" variant="secondary" onClick={() => go("")}>
                Back to the start folder
              </Button>
            )}
          </div>
        </div>
      ) : entries.length === 0 ? (
        <EmptyState title="This folder is empty" />
      ) : (
        <Table>
          <caption className="sr-only">Files in {dir}</caption>
          <thead>
            <tr>
              <Th>Name</Th>
              <Th>Type</Th>
              <Th className="text-right">Size</Th>
              <Th className="hidden md:table-cell">Mode</Th>
              <Th className="hidden md:table-cell">Modified</Th>
              <ActionsTh />
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.name} data-name={e.name}>
                <Td className="max-w-80 truncate font-mono text-xs">
                  {e.type === "directory" ? (
                    <button type="button" className="text-primary hover:underline" onClick={() => go(joinPath(dir, e.name))}>
                      {e.name}/
                    </button>
                  ) : (
                    e.name
                  )}
                </Td>
                <Td className="text-xs">{e.type}</Td>
                <Td className="whitespace-nowrap text-right text-xs" title={`${e.size} bytes`}>
                  {e.type === "directory" ? "—" : formatSize(e.size)}
                </Td>
                <Td className="hidden font-mono text-xs md:table-cell">{modeString(e.mode, e.type)}</Td>
                <Td className="hidden whitespace-nowrap text-xs md:table-cell">{formatDateTime(e.modified)}</Td>
                <Td className="whitespace-nowrap text-right">
                  {e.type === "file" && (
                    <Button size="sm" variant="ghost" aria-label={`Download ${e.name}`} onClick={() => void download(e)}>
                      Download
                    </Button>
                  )}
                  <Button size="sm" variant="ghost" aria-label={`Rename ${e.name}`} onClick={() => setPending({ kind: "rename", entry: e })}>
                    Rename
                  </Button>
                  <Button size="sm" variant="ghost" className="text-danger" aria-label={`Delete ${e.name}`} onClick={() => setPending({ kind: "delete", entry: e })}>
                    Delete
                  </Button>
                </Td>
              </tr>
            ))}
          </tbody>
        </Table>
      )}
      {pending?.kind === "mkdir" && <NameDialog title="New folder" label="Folder name" button="Create" initial="" onClose={() => setPending(null)} act={(n) => makeDirectory(id, joinPath(dir, n))} done={refresh} />}
      {pending?.kind === "rename" && (
        <NameDialog
          title={`Rename ${pending.entry.name}`}
          label="New name"
          button="Rename"
          initial={pending.entry.name}
          onClose={() => setPending(null)}
          act={(n) => renameFile(id, joinPath(dir, pending.entry.name), joinPath(dir, n))}
          done={refresh}
        />
      )}
      {pending?.kind === "delete" && <DeleteDialog entry={pending.entry} path={joinPath(dir, pending.entry.name)} onClose={() => setPending(null)} act={() => deleteFile(id, joinPath(dir, pending.entry.name), pending.entry.type === "directory")} done={refresh} />}
      {pending?.kind === "exists" && (
        <Dialog
          open
          onClose={() => setPending(null)}
          title={`${pending.file.name} is already there`}
          footer={
            <>
              <Button variant="secondary" onClick={() => setPending(null)}>
                Cancel
              </Button>
              {pending.entry.size < pending.file.size && (
                <Button
                  variant="secondary"
                  onClick={() => {
                    start(pending.file, true);
                    setPending(null);
                  }}
                >
                  Resume
                </Button>
              )}
              <Button
                variant="danger"
                onClick={() => {
                  start(pending.file, false);
                  setPending(null);
                }}
              >
                Replace
              </Button>
            </>
          }
        >
          <p className="text-sm">
            The device has a {formatSize(pending.entry.size)} file with this name; yours is {formatSize(pending.file.size)}.
            {pending.entry.size < pending.file.size
              ? " Resume sends only the rest if it is the start of an earlier upload of this file (checked by its SHA-256 at the end; if not, the whole file is sent again). Replace overwrites it."
              : " Replace overwrites it."}
          </p>
        </Dialog>
      )}
    </div>
  );
}

/** A path typed in: the folder to open. */
function GoTo({ current, onGo }: { current: string; onGo: (path: string) => void }) {
  const [value, setValue] = useState<string | null>(null);
  return (
    <form
      className="flex max-w-2xl gap-2"
      onSubmit={(e) => {
        e.preventDefault();
        const p = (value ?? current).trim();
        setValue(null);
        onGo(p);
      }}
    >
      <Input aria-label="Folder path" className="font-mono" placeholder="/path/to/folder" value={value ?? current} onChange={(e) => setValue(e.target.value)} />
      <Button type="submit" variant="secondary">
        Open
      </Button>
    </form>
  );
}

const PHASE: Record<UploadProgress["phase"], string> = {
  checking: "Checking what the device has…",
  hashing: "Reading back the part already sent…",
  sending: "Sending",
  verifying: "Verifying the SHA-256…",
  done: "Uploaded",
};

function Uploads({ items, onResume, onCancel, onClear }: { items: UploadItem[]; onResume: (u: UploadItem) => void; onCancel: (u: UploadItem) => void; onClear: () => void }) {
  return (
    <section aria-label="Uploads" className="space-y-2 rounded-lg border border-border bg-card p-3">
      <div className="flex items-center justify-between">
        <h2 className="text-sm font-semibold">Uploads</h2>
        {items.some((u) => u.state !== "running") && (
          <Button size="sm" variant="ghost" onClick={onClear}>
            Clear finished
          </Button>
        )}
      </div>
      <ul className="space-y-2">
        {items.map((u) => {
          const p = u.progress;
          const pct = p ? percent(p.sent, p.total) : 0;
          return (
            <li key={u.key} className="text-sm" aria-label={`Upload of ${u.file.name}`} data-state={u.state}>
              <div className="flex flex-wrap items-center gap-2">
                <span className="font-mono text-xs">{u.path}</span>
                <span className="text-xs text-muted-fg">
                  {u.state === "running" ? `${p ? PHASE[p.phase] : "Starting…"} ${p?.phase === "sending" ? `${formatSize(p.sent)} of ${formatSize(p.total)}` : ""}` : u.state === "done" ? `Uploaded ${formatSize(u.file.size)}, SHA-256 verified` : u.state}
                </span>
                <span className="ml-auto flex gap-1">
                  {u.state === "running" && (
                    <Button size="sm" variant="ghost" onClick={() => onCancel(u)}>
                      Cancel
                    </Button>
                  )}
                  {(u.state === "failed" || u.state === "cancelled") && (
                    <Button size="sm" variant="secondary" onClick={() => onResume(u)}>
                      Resume
                    </Button>
                  )}
                </span>
              </div>
              <progress className="mt-1 h-2 w-full accent-[var(--primary)]" max={100} value={u.state === "done" ? 100 : pct} aria-label={`Progress of ${u.file.name}`} />
              {u.message && <p className={u.state === "failed" ? "text-xs text-danger" : "text-xs text-muted-fg"}>{u.message}</p>}
            </li>
          );
        })}
      </ul>
    </section>
  );
}

function NameDialog({ title, label, button, initial, onClose, act, done }: { title: string; label: string; button: string; initial: string; onClose: () => void; act: (name: string) => Promise<unknown>; done: () => void }) {
  const [value, setValue] = useState(initial);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const problem = nameProblem(value);
    if (problem) return setError(problem);
    setBusy(true);
    try {
      await act(value);
      done();
      onClose();
    } catch (e) {
      setError(fileErrorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      open
      onClose={onClose}
      title={title}
      footer={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button type="submit" form="name-dialog" loading={busy}>
            {button}
          </Button>
        </>
      }
    >
      <form
        id="name-dialog"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <Field label={label} error={error}>
          {(p) => <Input {...p} autoFocus value={value} onChange={(e) => setValue(e.target.value)} />}
        </Field>
      </form>
    </Dialog>
  );
}

function DeleteDialog({ entry, path, onClose, act, done }: { entry: FileEntry; path: string; onClose: () => void; act: () => Promise<unknown>; done: () => void }) {
  const [error, setError] = useState<ReactNode>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    try {
      await act();
      done();
      onClose();
    } catch (e) {
      setError(fileErrorText(e));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog
      open
      onClose={onClose}
      title={`Delete ${entry.name}?`}
      footer={
        <>
          <Button variant="secondary" onClick={onClose}>
            Cancel
          </Button>
          <Button variant="danger" loading={busy} onClick={() => void submit()}>
            Delete
          </Button>
        </>
      }
    >
      <p className="text-sm">
        <code className="font-mono">{path}</code> is deleted from the device{entry.type === "directory" ? ", with everything in the folder" : ""}. This cannot be undone.
      </p>
      {error && (
        <div className="mt-3">
          <Notice tone="danger">{error}</Notice>
        </div>
      )}
    </Dialog>
  );
}
