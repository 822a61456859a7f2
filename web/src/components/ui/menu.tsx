import { useEffect, useId, useRef, useState, type KeyboardEvent, type ReactNode } from "react";
import { Button } from "./button";
import { cn } from "./cn";

export interface MenuItem {
  label: string;
  onSelect: () => void;
  /** Shown in the danger colour (destructive actions). */
  danger?: boolean;
}

/**
 * An overflow menu ("More"): a button that opens a list of actions. Arrow keys move
 * between items, Escape or a click outside closes it and focus returns to the button.
 */
export function Menu({ label, items, children }: { label: string; items: MenuItem[]; children?: ReactNode }) {
  const [open, setOpen] = useState(false);
  // The list opens towards the wider side of the screen, so it never leaves it.
  const [alignRight, setAlignRight] = useState(true);
  const id = useId();
  const root = useRef<HTMLDivElement>(null);
  const button = useRef<HTMLButtonElement>(null);
  const entries = useRef<Array<HTMLButtonElement | null>>([]);
  useEffect(() => {
    if (!open) return;
    entries.current[0]?.focus();
    const away = (e: MouseEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("mousedown", away);
    return () => document.removeEventListener("mousedown", away);
  }, [open]);
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  const onKey = (e: KeyboardEvent, i: number) => {
    const dir = e.key === "ArrowDown" ? 1 : e.key === "ArrowUp" ? -1 : 0;
    if (e.key === "Escape") {
      e.preventDefault();
      close();
    } else if (dir) {
      e.preventDefault();
      entries.current[(i + dir + items.length) % items.length]?.focus();
    }
  };
  if (items.length === 0) return null;
  return (
    <div ref={root} className="relative">
      <Button ref={button} variant="secondary" aria-haspopup="menu" aria-expanded={open} aria-controls={id} onClick={() => {
          const r = button.current?.getBoundingClientRect();
          setAlignRight(!r || r.right > window.innerWidth / 2);
          setOpen((o) => !o);
        }}
      >
        {children ?? label} <span aria-hidden>▾</span>
      </Button>
      {open && (
        <div id={id} role="menu" aria-label={label} className={cn("absolute z-20 mt-1 min-w-44 rounded-md border border-border bg-card p-1 shadow-lg", alignRight ? "right-0" : "left-0")}>
          {items.map((it, i) => (
            <button
              key={it.label}
              ref={(el) => {
                entries.current[i] = el;
              }}
              type="button"
              role="menuitem"
              tabIndex={-1}
              onKeyDown={(e) => onKey(e, i)}
              onClick={() => {
                setOpen(false);
                it.onSelect();
              }}
              className={cn("block w-full rounded px-3 py-2 text-left text-sm hover:bg-muted focus:bg-muted focus:outline-none", it.danger && "text-danger")}
            >
              {it.label}
            </button>
          ))}
        </div>
      )}
    </div>
  );
}
