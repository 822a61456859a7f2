import { useCallback, useEffect, useRef, useState, type KeyboardEvent } from "react";
import { cn } from "./cn";

/** Which ends of a horizontally scrolling element have more content beyond them. */
export function overflowEnds(el: { scrollLeft: number; scrollWidth: number; clientWidth: number }): { start: boolean; end: boolean } {
  const slack = 2; // sub-pixel widths
  return { start: el.scrollLeft > slack, end: el.scrollLeft + el.clientWidth < el.scrollWidth - slack };
}

/**
 * WAI-ARIA tabs: arrow keys move between tabs. When the tabs are wider than the screen
 * they scroll sideways, and a fade with an arrow on each side that hides tabs says so
 * (the arrow scrolls the list when clicked).
 */
export function Tabs<T extends string>({ tabs, value, onChange, label }: { tabs: Array<{ id: T; label: string }>; value: T; onChange: (t: T) => void; label: string }) {
  const refs = useRef<Array<HTMLButtonElement | null>>([]);
  const list = useRef<HTMLDivElement>(null);
  const [ends, setEnds] = useState({ start: false, end: false });
  const measure = useCallback(() => {
    if (list.current) setEnds(overflowEnds(list.current));
  }, []);
  useEffect(() => {
    const el = list.current;
    if (!el) return;
    measure();
    const ro = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(measure);
    ro?.observe(el);
    return () => ro?.disconnect();
  }, [measure, tabs.length]);
  // The selected tab is kept in view (e.g. after arrow keys or a deep link).
  useEffect(() => {
    const i = tabs.findIndex((t) => t.id === value);
    refs.current[i]?.scrollIntoView?.({ block: "nearest", inline: "nearest" });
  }, [value, tabs]);
  const onKey = (e: KeyboardEvent, i: number) => {
    const dir = e.key === "ArrowRight" ? 1 : e.key === "ArrowLeft" ? -1 : 0;
    if (!dir) return;
    e.preventDefault();
    const next = (i + dir + tabs.length) % tabs.length;
    onChange(tabs[next].id);
    refs.current[next]?.focus();
  };
  const nudge = (dir: 1 | -1) => list.current?.scrollBy?.({ left: dir * list.current.clientWidth * 0.6, behavior: "smooth" });
  const cue = "absolute inset-y-0 flex w-10 items-center text-lg text-muted-fg from-bg via-bg/90 to-transparent";
  return (
    <div className="relative mb-4">
      <div ref={list} role="tablist" aria-label={label} onScroll={measure} className="flex gap-1 overflow-x-auto border-b border-border [scrollbar-width:none]">
        {tabs.map((t, i) => (
          <button
            key={t.id}
            ref={(el) => {
              refs.current[i] = el;
            }}
            role="tab"
            type="button"
            id={`tab-${t.id}`}
            aria-selected={t.id === value}
            aria-controls={`panel-${t.id}`}
            tabIndex={t.id === value ? 0 : -1}
            onKeyDown={(e) => onKey(e, i)}
            onClick={() => onChange(t.id)}
            className={cn(
              "-mb-px whitespace-nowrap border-b-2 px-3 py-2 text-sm",
              t.id === value ? "border-primary font-semibold text-fg" : "border-transparent text-muted-fg hover:text-fg",
            )}
          >
            {t.label}
          </button>
        ))}
      </div>
      {ends.start && (
        <button type="button" tabIndex={-1} aria-hidden data-testid="tabs-more-start" onClick={() => nudge(-1)} className={cn(cue, "left-0 justify-start bg-linear-to-r")}>
          ‹
        </button>
      )}
      {ends.end && (
        <button type="button" tabIndex={-1} aria-hidden data-testid="tabs-more-end" onClick={() => nudge(1)} className={cn(cue, "right-0 justify-end bg-linear-to-l")}>
          ›
        </button>
      )}
    </div>
  );
}
