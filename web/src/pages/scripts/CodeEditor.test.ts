import { describe, expect, it } from "vitest";
import { cspNonce } from "./CodeEditor";

function docWith(content: string | null): Document {
  const d = document.implementation.createHTMLDocument("t");
  if (content !== null) {
    const m = d.createElement("meta");
    m.name = "csp-nonce";
    m.content = content;
    d.head.append(m);
  }
  return d;
}

describe("cspNonce", () => {
  it("reads the nonce the server put in the page", () => {
    expect(cspNonce(docWith("0123456789abcdef0123456789abcdef"))).toBe("0123456789abcdef0123456789abcdef");
  });
  it("ignores the unreplaced placeholder (Vite dev server) and a missing tag", () => {
    expect(cspNonce(docWith("__CSP_NONCE__"))).toBeNull();
    expect(cspNonce(docWith(null))).toBeNull();
  });
  it("ignores anything that is not a plain token", () => {
    expect(cspNonce(docWith("abc' 'unsafe-inline"))).toBeNull();
  });
});
