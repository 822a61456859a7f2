import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { upload, UploadMismatchError, type UploadIo, type UploadProgress, type UploadSource } from "./remoteUpload";

/** A device's file store as the server's file routes behave: a write at N needs N = 0 or the current size. */
class FakeDevice implements UploadIo {
  files = new Map<string, Uint8Array>();
  puts: Array<{ offset: number; length: number }> = [];
  /** Fail the PUT with this index (0-based, counted over the device's life). */
  failAt = -1;
  async head(path: string) {
    return this.files.get(path)?.length ?? null;
  }
  async put(path: string, offset: number, _total: number, bytes: Uint8Array) {
    if (this.puts.length === this.failAt) {
      this.puts.push({ offset: -1, length: 0 });
      throw new Error("connection reset");
    }
    this.puts.push({ offset, length: bytes.length });
    const cur = this.files.get(path) ?? new Uint8Array(0);
    if (offset !== 0 && offset !== cur.length) throw new Error(`409: offset ${offset} is not the size ${cur.length}`);
    const next = new Uint8Array(offset + bytes.length);
    if (offset > 0) next.set(cur.subarray(0, offset));
    next.set(bytes, offset);
    this.files.set(path, next);
  }
  async complete(path: string, sha256: string) {
    const f = this.files.get(path);
    return f && createHash("sha256").update(f).digest("hex") === sha256 ? ("ok" as const) : ("mismatch" as const);
  }
}

function source(data: Uint8Array): UploadSource & { reads: number } {
  const s = {
    size: data.length,
    reads: 0,
    read: async (o: number, n: number) => {
      s.reads++;
      return data.slice(o, o + n);
    },
  };
  return s;
}

const sha = (d: Uint8Array) => createHash("sha256").update(d).digest("hex");

describe("upload", () => {
  it("sends the file in chunks and completes with its SHA-256", async () => {
    const data = new Uint8Array(randomBytes(10_000));
    const dev = new FakeDevice();
    const seen: UploadProgress[] = [];
    const r = await upload(source(data), "/tmp/a.bin", dev, { resume: true, chunkSize: 4096, onProgress: (p) => seen.push(p) });
    expect(r).toEqual({ sha256: sha(data), resumedFrom: 0, restarted: false });
    expect(dev.puts).toEqual([
      { offset: 0, length: 4096 },
      { offset: 4096, length: 4096 },
      { offset: 8192, length: 1808 },
    ]);
    expect(dev.files.get("/tmp/a.bin")).toEqual(data);
    expect(seen.filter((p) => p.phase === "sending").map((p) => p.sent)).toEqual([0, 4096, 8192, 10_000]);
    expect(seen.at(-1)).toMatchObject({ phase: "done", sent: 10_000 });
  });

  it("resumes after an interruption from the size HEAD reports, and the whole file verifies", async () => {
    const data = new Uint8Array(randomBytes(20_000));
    const dev = new FakeDevice();
    dev.failAt = 2;
    await expect(upload(source(data), "/f", dev, { resume: true, chunkSize: 4096 })).rejects.toThrow("connection reset");
    expect(dev.files.get("/f")?.length).toBe(8192);
    const src = source(data);
    const r = await upload(src, "/f", dev, { resume: true, chunkSize: 4096 });
    expect(r).toEqual({ sha256: sha(data), resumedFrom: 8192, restarted: false });
    // Only the rest was sent again.
    expect(dev.puts.slice(3).map((p) => p.offset)).toEqual([8192, 12288, 16384]);
    expect(dev.files.get("/f")).toEqual(data);
  });

  it("only verifies when every byte is already there", async () => {
    const data = new Uint8Array(randomBytes(5000));
    const dev = new FakeDevice();
    dev.files.set("/f", data.slice());
    const r = await upload(source(data), "/f", dev, { resume: true, chunkSize: 4096 });
    expect(r.resumedFrom).toBe(5000);
    expect(dev.puts).toEqual([]);
  });

  it("sends again from 0 when the device's prefix belongs to another file", async () => {
    const data = new Uint8Array(randomBytes(9000));
    const dev = new FakeDevice();
    dev.files.set("/f", new Uint8Array(randomBytes(3000)));
    const r = await upload(source(data), "/f", dev, { resume: true, chunkSize: 4096 });
    expect(r).toMatchObject({ resumedFrom: 3000, restarted: true });
    expect(dev.files.get("/f")).toEqual(data);
  });

  it("without resume, replaces what is there from offset 0", async () => {
    const data = new Uint8Array(randomBytes(100));
    const dev = new FakeDevice();
    dev.files.set("/f", new Uint8Array(50));
    await upload(source(data), "/f", dev, { resume: false });
    expect(dev.puts).toEqual([{ offset: 0, length: 100 }]);
    expect(dev.files.get("/f")).toEqual(data);
  });

  it("creates an empty file with one empty chunk", async () => {
    const dev = new FakeDevice();
    await upload(source(new Uint8Array(0)), "/empty", dev, { resume: true });
    expect(dev.puts).toEqual([{ offset: 0, length: 0 }]);
    expect(dev.files.get("/empty")?.length).toBe(0);
  });

  it("reports a mismatch when the device keeps a different file", async () => {
    const dev = new FakeDevice();
    dev.complete = async () => "mismatch";
    await expect(upload(source(new Uint8Array(10)), "/f", dev, { resume: false })).rejects.toBeInstanceOf(UploadMismatchError);
  });

  it("stops between chunks when aborted", async () => {
    const data = new Uint8Array(randomBytes(20_000));
    const dev = new FakeDevice();
    const ac = new AbortController();
    const p = upload(source(data), "/f", dev, { resume: false, chunkSize: 4096, signal: ac.signal, onProgress: (x) => x.sent >= 8192 && ac.abort() });
    await expect(p).rejects.toThrow();
    expect(dev.puts.length).toBe(2);
  });
});
