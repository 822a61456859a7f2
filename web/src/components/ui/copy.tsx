import { useId, useState } from "react";
import { Button } from "./button";

/** A read-only value with a Copy button (the clipboard API needs a secure context or localhost). */
export function CopyField({ label, value }: { label: string; value: string }) {
  const id = useId();
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
      setTimeout(() => setCopied(false), 2000);
    } catch {
      (document.getElementById(id) as HTMLTextAreaElement | null)?.select();
    }
  };
  return (
    <div className="space-y-1.5">
      <label htmlFor={id} className="block text-sm font-medium">
        {label}
      </label>
      <div className="flex items-start gap-2">
        <textarea
          id={id}
          readOnly
          value={value}
          rows={Math.min(4, Math.ceil(value.length / 70))}
          className="w-full resize-none rounded-md border border-input bg-muted px-3 py-2 font-mono text-xs"
          onFocus={(e) => e.target.select()}
        />
        <Button variant="secondary" size="sm" onClick={copy} aria-live="polite" aria-label={copied ? `Copied ${label}` : `Copy ${label}`}>
          {copied ? "Copied" : "Copy"}
        </Button>
      </div>
    </div>
  );
}
