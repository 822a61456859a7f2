import { describe, expect, it } from "vitest";
import { styleNonce, withStyleNonce } from "./remoteXterm";

function docWith(nonce: string | null): Document {
  const d = document.implementation.createHTMLDocument("t");
  if (nonce !== null) {
    const m = d.createElement("meta");
    m.name = "csp-nonce";
    m.content = nonce;
    d.head.appendChild(m);
  }
  return d;
}

describe("withStyleNonce", () => {
  it("reads the page's nonce, not the placeholder", () => {
    expect(styleNonce(docWith("0123456789abcdef0123456789abcdef"))).toBe("0123456789abcdef0123456789abcdef");
    expect(styleNonce(docWith("__CSP_NONCE__"))).toBeNull();
    expect(styleNonce(docWith(null))).toBeNull();
  });

  it("gives style elements made during the call the nonce, and only then", () => {
    const d = docWith(null);
    const made = withStyleNonce(d, "n0nce0123456789ab", () => [d.createElement("style"), d.createElement("STYLE"), d.createElement("div")]);
    expect(made.map((e) => e.getAttribute("nonce"))).toEqual(["n0nce0123456789ab", "n0nce0123456789ab", null]);
    expect(d.createElement("style").getAttribute("nonce")).toBeNull();
    expect(Object.prototype.hasOwnProperty.call(d, "createElement")).toBe(false);
  });

  it("restores createElement when the call throws, and does nothing without a nonce", () => {
    const d = docWith(null);
    expect(() => withStyleNonce(d, "n0nce0123456789ab", () => { throw new Error("boom"); })).toThrow("boom");
    expect(d.createElement("style").getAttribute("nonce")).toBeNull();
    expect(withStyleNonce(d, null, () => d.createElement("style").getAttribute("nonce"))).toBeNull();
  });
});
