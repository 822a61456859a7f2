import { createHash, randomBytes } from "node:crypto";
import { describe, expect, it } from "vitest";
import { Sha256 } from "./remoteSha256";

const text = (s: string) => new TextEncoder().encode(s);

describe("Sha256", () => {
  it("matches the FIPS 180-4 examples", () => {
    expect(new Sha256().hex()).toBe("e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    expect(new Sha256().update(text("abc")).hex()).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    expect(new Sha256().update(text("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")).hex()).toBe("248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  });

  it("gives node:crypto's digest however the bytes are split into updates", () => {
    for (const size of [0, 1, 55, 56, 63, 64, 65, 119, 120, 128, 1000, 70_000]) {
      const data = new Uint8Array(randomBytes(size));
      const want = createHash("sha256").update(data).digest("hex");
      expect(new Sha256().update(data).hex(), `size ${size} in one update`).toBe(want);
      const h = new Sha256();
      let o = 0;
      for (const step of [1, 7, 64, 3, 200, 63]) {
        if (o >= size) break;
        h.update(data.subarray(o, Math.min(size, o + step)));
        o += step;
      }
      h.update(data.subarray(Math.min(o, size)));
      expect(h.hex(), `size ${size} in pieces`).toBe(want);
    }
  });

  it("refuses more bytes after the digest", () => {
    const h = new Sha256().update(text("x"));
    h.hex();
    expect(h.hex()).toBe(createHash("sha256").update("x").digest("hex"));
    expect(() => h.update(text("y"))).toThrow(/after digest/);
  });
});
