// xterm.js under the console's Content-Security-Policy. xterm's DOM renderer adds its own
// `<style>` elements, which the policy (`style-src 'self' 'nonce-…'`) only applies when they
// carry the page's nonce. Those elements are made while the terminal opens: for that call,
// `document.createElement("style")` hands out elements that already carry the nonce.
// (Truecolor cells are styled with a `style` attribute, which the policy still refuses: such
// cells lose their colour, nothing else.)
import { Terminal, type ITerminalInitOnlyOptions, type ITerminalOptions } from "@xterm/xterm";
import { FitAddon } from "@xterm/addon-fit";
import "@xterm/xterm/css/xterm.css";

/** The page's style nonce from `<meta name="csp-nonce">` (null in dev, where the placeholder stays). */
export function styleNonce(doc: Document = document): string | null {
  const v = doc.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? "";
  return /^[A-Za-z0-9+/=_-]{16,}$/.test(v) && !v.startsWith("__") ? v : null;
}

/** Runs `fn` while `<style>` elements made by `doc.createElement` carry `nonce`. */
export function withStyleNonce<T>(doc: Document, nonce: string | null, fn: () => T): T {
  if (!nonce) return fn();
  const own = Object.prototype.hasOwnProperty.call(doc, "createElement");
  const previous = doc.createElement;
  const create = previous.bind(doc);
  doc.createElement = ((tag: string, options?: ElementCreationOptions) => {
    const el = create(tag, options);
    if (tag.toLowerCase() === "style") el.setAttribute("nonce", nonce);
    return el;
  }) as Document["createElement"];
  try {
    return fn();
  } finally {
    if (own) doc.createElement = previous;
    else delete (doc as { createElement?: unknown }).createElement;
  }
}

export const TERMINAL_THEME = {
  background: "#0b1020",
  foreground: "#e5e7eb",
  cursor: "#e5e7eb",
  selectionBackground: "#33415580",
};

/** A terminal opened in `el`, sized to it by the fit addon. */
export function openTerminal(el: HTMLElement, options: ITerminalOptions & ITerminalInitOnlyOptions = {}): { term: Terminal; fit: FitAddon } {
  const term = new Terminal({
    fontFamily: 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace',
    fontSize: 14,
    scrollback: 5000,
    theme: TERMINAL_THEME,
    ...options,
  });
  const fit = new FitAddon();
  term.loadAddon(fit);
  withStyleNonce(el.ownerDocument, styleNonce(el.ownerDocument), () => term.open(el));
  return { term, fit };
}

/** The terminal's visible text, one line per row (what `.xterm-rows` shows). */
export function screenText(term: Terminal): string {
  const b = term.buffer.active;
  const lines: string[] = [];
  for (let i = 0; i < b.length; i++) lines.push(b.getLine(i)?.translateToString(true) ?? "");
  return lines.join("\n");
}
