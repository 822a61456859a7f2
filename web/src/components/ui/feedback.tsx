import type { ReactNode } from "react";
import { errorMessage } from "../../api/client";
import { Button } from "./button";
import { cn } from "./cn";

export function Spinner({ className }: { className?: string }) {
  return (
    <span
      role="status"
      aria-label="Loading"
      className={cn("inline-block size-5 animate-spin rounded-full border-2 border-primary border-t-transparent", className)}
    />
  );
}

export function Loading({ label = "Loading…" }: { label?: string }) {
  return (
    <div role="status" aria-busy="true" className="flex items-center justify-center gap-3 py-12 text-sm text-muted-fg">
      <Spinner /> {label}
    </div>
  );
}

export function ErrorState({ error, retry, title = "Could not load this" }: { error: unknown; retry?: () => void; title?: string }) {
  return (
    <div role="alert" className="rounded-lg border border-danger/40 bg-danger/5 p-4 text-sm">
      <p className="font-semibold text-danger">{title}</p>
      <p className="mt-1 text-fg">{errorMessage(error)}</p>
      {retry && (
        <Button variant="secondary" size="sm" className="mt-3" onClick={retry}>
          Try again
        </Button>
      )}
    </div>
  );
}

export function EmptyState({ title, children, action }: { title: string; children?: ReactNode; action?: ReactNode }) {
  return (
    <div className="rounded-lg border border-dashed border-border px-6 py-12 text-center">
      <p className="font-semibold">{title}</p>
      {children && <div className="mx-auto mt-1 max-w-md text-sm text-muted-fg">{children}</div>}
      {action && <div className="mt-4">{action}</div>}
    </div>
  );
}

export function Notice({ tone = "info", children }: { tone?: "info" | "danger" | "ok" | "warn"; children: ReactNode }) {
  const tones = {
    info: "border-primary/40 bg-primary/5",
    danger: "border-danger/40 bg-danger/5 text-danger",
    ok: "border-ok/40 bg-ok/5",
    warn: "border-warn/40 bg-warn/5",
  };
  return (
    <div role={tone === "danger" ? "alert" : "status"} className={cn("rounded-md border px-3 py-2 text-sm", tones[tone])}>
      {children}
    </div>
  );
}
