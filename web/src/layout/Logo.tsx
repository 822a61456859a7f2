export function Logo({ compact }: { compact?: boolean }) {
  return (
    <span className="inline-flex items-center gap-2 font-semibold tracking-tight">
      <svg viewBox="0 0 32 32" className="size-7" aria-hidden>
        <rect width="32" height="32" rx="7" className="fill-primary" />
        <path d="M7 12h13a3 3 0 1 0-3-3M7 17h18a3 3 0 1 1-3 3M7 22h9" className="stroke-primary-fg" strokeWidth="2.4" fill="none" strokeLinecap="round" />
      </svg>
      {!compact && <span className="text-lg">Breeze</span>}
    </span>
  );
}
