import { useEffect, useRef } from "react";
import { EditorView, basicSetup } from "codemirror";
import { EditorState, Compartment } from "@codemirror/state";
import { StreamLanguage } from "@codemirror/language";
import { shell } from "@codemirror/legacy-modes/mode/shell";
import { powerShell } from "@codemirror/legacy-modes/mode/powershell";
import { python } from "@codemirror/lang-python";

function languageFor(lang: string) {
  switch (lang) {
    case "python":
      return python();
    case "powershell":
      return StreamLanguage.define(powerShell);
    case "bash":
    case "cmd":
    default:
      return StreamLanguage.define(shell);
  }
}

/**
 * The server's per-page style nonce (`<meta name="csp-nonce">`): CodeMirror adds its styles
 * in `<style>` elements, which the Content-Security-Policy allows only with this nonce.
 */
export function cspNonce(doc: Document = document): string | null {
  const v = doc.querySelector<HTMLMetaElement>('meta[name="csp-nonce"]')?.content ?? "";
  return /^[A-Za-z0-9+/=_-]{16,}$/.test(v) && !v.startsWith("__") ? v : null;
}

/** CodeMirror 6 with syntax highlighting for the script's language. */
export function CodeEditor({ value, onChange, language, readOnly, label }: { value: string; onChange: (v: string) => void; language: string; readOnly?: boolean; label: string }) {
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const langConf = useRef(new Compartment());
  const roConf = useRef(new Compartment());
  const onChangeRef = useRef(onChange);
  useEffect(() => {
    onChangeRef.current = onChange;
  }, [onChange]);

  useEffect(() => {
    if (!host.current) return;
    const nonce = cspNonce();
    const v = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: value,
        extensions: [
          ...(nonce ? [EditorView.cspNonce.of(nonce)] : []),
          basicSetup,
          langConf.current.of(languageFor(language)),
          roConf.current.of(EditorState.readOnly.of(!!readOnly)),
          EditorView.contentAttributes.of({ "aria-label": label }),
          EditorView.updateListener.of((u) => {
            if (u.docChanged) onChangeRef.current(u.state.doc.toString());
          }),
          EditorView.theme({ "&": { minHeight: "18rem", backgroundColor: "var(--card)", color: "var(--fg)" }, ".cm-gutters": { backgroundColor: "var(--muted)", color: "var(--muted-fg)", border: "none" }, ".cm-activeLine": { backgroundColor: "color-mix(in srgb, var(--primary) 8%, transparent)" }, ".cm-activeLineGutter": { backgroundColor: "transparent" }, ".cm-cursor": { borderLeftColor: "var(--fg)" } }),
        ],
      }),
    });
    view.current = v;
    return () => v.destroy();
    // The editor is created once; later changes go through compartments below.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);

  useEffect(() => {
    view.current?.dispatch({ effects: langConf.current.reconfigure(languageFor(language)) });
  }, [language]);
  useEffect(() => {
    view.current?.dispatch({ effects: roConf.current.reconfigure(EditorState.readOnly.of(!!readOnly)) });
  }, [readOnly]);
  useEffect(() => {
    const v = view.current;
    if (v && v.state.doc.toString() !== value) v.dispatch({ changes: { from: 0, to: v.state.doc.length, insert: value } });
  }, [value]);

  return <div ref={host} />;
}
