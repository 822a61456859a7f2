// The file manager's pure logic: agent paths (POSIX or Windows, as the agent resolved them),
// breadcrumbs, names, the chunk plan of an upload and where an interrupted one resumes,
// sizes and modes as the listing shows them.
import { ApiError } from "../api/client";
import type { FileEntry } from "../api/types";

/** Upload chunk size: one PUT each. 4 MiB keeps a request short and a retry cheap. */
export const CHUNK_SIZE = 4 * 1024 * 1024;

export type PathStyle = "posix" | "windows";

/** Windows when the path starts with a drive (`C:`) or is a UNC path (`\\server`), or uses only backslashes. */
export function pathStyle(path: string): PathStyle {
  if (/^[A-Za-z]:/.test(path) || path.startsWith("\\\\")) return "windows";
  if (path.includes("\\") && !path.includes("/")) return "windows";
  return "posix";
}

function sep(style: PathStyle): string {
  return style === "windows" ? "\\" : "/";
}

/** `name` inside the directory `dir`, with the directory's own separator. */
export function joinPath(dir: string, name: string): string {
  if (!dir) return name;
  const s = sep(pathStyle(dir));
  return dir.endsWith(s) ? `${dir}${name}` : `${dir}${s}${name}`;
}

export interface Crumb {
  label: string;
  path: string;
}

/**
 * The breadcrumb of a directory: its root first (`/`, `C:\`, `\\server\share`), then each
 * directory down to it. A relative path (no root) starts at its first part.
 */
export function breadcrumbs(path: string): Crumb[] {
  if (!path) return [];
  const style = pathStyle(path);
  const s = sep(style);
  const crumbs: Crumb[] = [];
  let rest: string;
  let base: string;
  if (style === "windows") {
    const unc = /^\\\\([^\\]+)\\([^\\]+)\\?/.exec(path);
    const drive = /^([A-Za-z]:)\\?/.exec(path);
    if (unc) {
      base = `\\\\${unc[1]}\\${unc[2]}`;
      crumbs.push({ label: base, path: base });
      rest = path.slice(unc[0].length);
      base += s;
    } else if (drive) {
      base = `${drive[1]}\\`;
      crumbs.push({ label: base, path: base });
      rest = path.slice(drive[0].length);
    } else {
      base = "";
      rest = path;
    }
  } else if (path.startsWith("/")) {
    base = "/";
    crumbs.push({ label: "/", path: "/" });
    rest = path.slice(1);
  } else {
    base = "";
    rest = path;
  }
  let acc = base;
  for (const part of rest.split(s).filter((p) => p !== "")) {
    acc = acc === "" || acc.endsWith(s) ? `${acc}${part}` : `${acc}${s}${part}`;
    crumbs.push({ label: part, path: acc });
  }
  return crumbs;
}

/** The directory holding `path` (the root is its own parent). */
export function parentPath(path: string): string {
  const c = breadcrumbs(path);
  return c.length >= 2 ? c[c.length - 2].path : (c[0]?.path ?? path);
}

/** Why `name` cannot be a file or directory name here, or null when it can. */
export function nameProblem(name: string): string | null {
  if (!name.trim()) return "Enter a name.";
  if (name === "." || name === "..") return "“.” and “..” are not names.";
  if (/[/\\]/.test(name)) return "A name cannot contain / or \\.";
  if (name.includes("\0")) return "A name cannot contain a NUL character.";
  return null;
}

export interface Chunk {
  offset: number;
  length: number;
}

/**
 * The PUTs that send bytes `start..total` of a file, `size` bytes each (the last shorter).
 * An empty file is one empty PUT at 0 (it creates the file); nothing is left to send when
 * `start` is already `total`.
 */
export function chunkPlan(total: number, start = 0, size = CHUNK_SIZE): Chunk[] {
  if (!Number.isInteger(total) || total < 0) throw new RangeError(`bad file size ${total}`);
  if (!Number.isInteger(size) || size <= 0) throw new RangeError(`bad chunk size ${size}`);
  if (total === 0) return start === 0 ? [{ offset: 0, length: 0 }] : [];
  const chunks: Chunk[] = [];
  for (let o = Math.max(0, start); o < total; o += size) chunks.push({ offset: o, length: Math.min(size, total - o) });
  return chunks;
}

export type Resume =
  /** Send the whole file from 0 (offset 0 truncates what is there). */
  | { kind: "fresh" }
  /** The first `offset` bytes are on the device: send the rest. */
  | { kind: "resume"; offset: number }
  /** Every byte is there: only verify it (complete with the SHA-256). */
  | { kind: "verify" };

/**
 * Where an upload of a `size`-byte file starts, given the size `HEAD` reports on the device
 * (null: no such file). A remote file longer than ours cannot be a prefix of it.
 */
export function resumeFrom(remote: number | null, size: number): Resume {
  if (remote === null || remote <= 0 || remote > size) return size === 0 && remote === 0 ? { kind: "verify" } : { kind: "fresh" };
  if (remote === size) return { kind: "verify" };
  return { kind: "resume", offset: remote };
}

/** Percent done, 0..100 (an empty file is done when its one chunk is sent). */
export function percent(done: number, total: number): number {
  if (total <= 0) return done >= total ? 100 : 0;
  return Math.min(100, Math.floor((done / total) * 100));
}

/** A size as people read it: bytes below 1 KiB, then KiB/MiB/GiB/TiB with one decimal under 10. */
export function formatSize(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n) || n < 0) return "—";
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v).toString()} ${units[i]}`;
}

/** Unix permission bits (`"0755"`, `"100644"`) as `ls -l` shows them: `drwxr-xr-x`. */
export function modeString(mode: string | null | undefined, type: FileEntry["type"]): string {
  if (!mode || !/^[0-7]+$/.test(mode)) return "—";
  const bits = parseInt(mode, 8) & 0o7777;
  const kind = type === "directory" ? "d" : type === "symlink" ? "l" : type === "other" ? "?" : "-";
  const rwx = (v: number, special: boolean, ch: string) => `${v & 4 ? "r" : "-"}${v & 2 ? "w" : "-"}${special ? (v & 1 ? ch : ch.toUpperCase()) : v & 1 ? "x" : "-"}`;
  return (
    kind +
    rwx((bits >> 6) & 7, (bits & 0o4000) !== 0, "s") +
    rwx((bits >> 3) & 7, (bits & 0o2000) !== 0, "s") +
    rwx(bits & 7, (bits & 0o1000) !== 0, "t")
  );
}

/** Directories first, then by name (as a person sorts: `file2` before `file10`). */
export function sortEntries(entries: readonly FileEntry[]): FileEntry[] {
  const dir = (e: FileEntry) => (e.type === "directory" ? 0 : 1);
  return [...entries].sort((a, b) => dir(a) - dir(b) || a.name.localeCompare(b.name, undefined, { numeric: true, sensitivity: "base" }));
}

/** The device's file routes. */
export function filesUrl(deviceId: string, route: "" | "/content" | "/complete" | "/mkdir" | "/rename", query?: Record<string, string | number | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) q.set(k, String(v));
  const s = q.toString();
  return `/api/v1/devices/${encodeURIComponent(deviceId)}/files${route}${s ? `?${s}` : ""}`;
}

/**
 * An API error as the file manager says it: what the status means (403 outside the allowed
 * root or refused by the device, 404, 409 offline), then the server's message.
 */
export function fileErrorText(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  switch (e.status) {
    case 403:
      if (e.code === "outside_root") return `Outside the folder this device allows: ${e.message}`;
      if (e.code === "permission_denied") return `The device refused access: ${e.message}`;
      return `Not permitted: ${e.message}`;
    case 404:
      return `Not found: ${e.message}`;
    case 409:
      return e.code === "device_offline" ? `The device is offline: ${e.message}` : `Conflict: ${e.message}`;
    default:
      return e.message;
  }
}
