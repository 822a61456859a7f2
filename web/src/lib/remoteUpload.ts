// A resumable upload to a device, chunk by chunk: `HEAD` says how much is already there,
// the rest goes up in `PUT …/files/content?offset=` chunks, then `files/complete` checks the
// whole file's SHA-256. The hash is computed incrementally (remoteSha256.ts) from the same
// chunks, so the browser holds one chunk at a time, whatever the file's size.
import { chunkPlan, CHUNK_SIZE, resumeFrom } from "./remoteFiles";
import { Sha256 } from "./remoteSha256";

/** The device side of an upload (remoteApi.ts talks to the server; the tests fake it). */
export interface UploadIo {
  /** The file's current size on the device; null when it does not exist. */
  head(path: string): Promise<number | null>;
  put(path: string, offset: number, total: number, bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** "mismatch" when the device's file does not have this SHA-256. */
  complete(path: string, sha256: string): Promise<"ok" | "mismatch">;
}

/** What is uploaded: a `File` in the browser. */
export interface UploadSource {
  size: number;
  read(offset: number, length: number): Promise<Uint8Array>;
}

export function fileSource(file: Blob): UploadSource {
  return { size: file.size, read: async (o, n) => new Uint8Array(await file.slice(o, o + n).arrayBuffer()) };
}

export interface UploadProgress {
  /** checking: HEAD; hashing: reading back the part already on the device; sending; verifying: complete. */
  phase: "checking" | "hashing" | "sending" | "verifying" | "done";
  /** Bytes of the file on the device so far. */
  sent: number;
  total: number;
  /** Where this attempt started (0 unless it resumed). */
  resumedFrom: number;
}

export interface UploadResult {
  sha256: string;
  resumedFrom: number;
  /** The device's prefix was not this file's: the upload was sent again from 0. */
  restarted: boolean;
}

export class UploadMismatchError extends Error {
  constructor() {
    super("The file on the device does not match what was sent (SHA-256 differs).");
    this.name = "UploadMismatchError";
  }
}

/**
 * Uploads `src` to `path`. With `resume`, the upload continues after what the device already
 * holds (a prefix of a previous attempt); when the whole file then fails verification, that
 * prefix was another file's and the upload is sent once more from 0.
 */
export async function upload(
  src: UploadSource,
  path: string,
  io: UploadIo,
  opts: { resume: boolean; chunkSize?: number; signal?: AbortSignal; onProgress?: (p: UploadProgress) => void },
): Promise<UploadResult> {
  const size = opts.chunkSize ?? CHUNK_SIZE;
  const report = opts.onProgress ?? (() => {});
  const total = src.size;
  let start = 0;
  let verifyOnly = false;
  if (opts.resume) {
    report({ phase: "checking", sent: 0, total, resumedFrom: 0 });
    const r = resumeFrom(await io.head(path), total);
    if (r.kind === "resume") start = r.offset;
    if (r.kind === "verify") {
      start = total;
      verifyOnly = true;
    }
  }
  const first = await attempt(start, verifyOnly);
  if (first.ok) return { sha256: first.sha256, resumedFrom: start, restarted: false };
  if (start === 0) throw new UploadMismatchError();
  const again = await attempt(0, false);
  if (again.ok) return { sha256: again.sha256, resumedFrom: start, restarted: true };
  throw new UploadMismatchError();

  async function attempt(from: number, verifyOnly: boolean): Promise<{ ok: boolean; sha256: string }> {
    const hash = new Sha256();
    // The part already on the device is read back locally only to hash it.
    for (let o = 0; o < from; o += size) {
      opts.signal?.throwIfAborted();
      hash.update(await src.read(o, Math.min(size, from - o)));
      report({ phase: "hashing", sent: from, total, resumedFrom: from });
    }
    if (!verifyOnly) {
      let sent = from;
      report({ phase: "sending", sent, total, resumedFrom: from });
      for (const c of chunkPlan(total, from, size)) {
        opts.signal?.throwIfAborted();
        const bytes = await src.read(c.offset, c.length);
        if (bytes.length !== c.length) throw new Error(`the file changed while it was read (expected ${c.length} bytes at ${c.offset}, got ${bytes.length})`);
        hash.update(bytes);
        await io.put(path, c.offset, total, bytes, opts.signal);
        sent = c.offset + c.length;
        report({ phase: "sending", sent, total, resumedFrom: from });
      }
    }
    const sha256 = hash.hex();
    report({ phase: "verifying", sent: total, total, resumedFrom: from });
    const ok = (await io.complete(path, sha256)) === "ok";
    if (ok) report({ phase: "done", sent: total, total, resumedFrom: from });
    return { ok, sha256 };
  }
}
