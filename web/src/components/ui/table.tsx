import type { ReactNode, ThHTMLAttributes, TdHTMLAttributes } from "react";
import { cn } from "./cn";

export function Table({ children, className }: { children: ReactNode; className?: string }) {
  return (
    <div className={cn("overflow-x-auto rounded-lg border border-border bg-card", className)}>
      <table className="w-full border-collapse text-left text-sm">{children}</table>
    </div>
  );
}
export function Th({ className, ...rest }: ThHTMLAttributes<HTMLTableCellElement>) {
  return <th scope="col" className={cn("border-b border-border bg-muted/60 px-3 py-2 text-xs font-semibold text-muted-fg", className)} {...rest} />;
}
export function Td({ className, ...rest }: TdHTMLAttributes<HTMLTableCellElement>) {
  return <td className={cn("border-b border-border px-3 py-2 align-middle", className)} {...rest} />;
}

/** A column header that sorts: `sort` is the list's `sort` parameter (`field` or `-field`). */
export function SortTh({
  field,
  sort,
  onSort,
  children,
  className,
}: {
  field: string;
  sort: string;
  onSort: (s: string) => void;
  children: ReactNode;
  className?: string;
}) {
  const active = sort === field || sort === `-${field}`;
  const desc = sort === `-${field}`;
  return (
    <Th className={className} aria-sort={active ? (desc ? "descending" : "ascending") : "none"}>
      <button type="button" className="inline-flex items-center gap-1 hover:text-fg" onClick={() => onSort(active && !desc ? `-${field}` : field)}>
        {children}
        <span aria-hidden className={active ? "text-fg" : "opacity-30"}>
          {active && desc ? "▼" : "▲"}
        </span>
      </button>
    </Th>
  );
}

/** The header of a row-actions column (named for screen readers only). */
export function ActionsTh() {
  return (
    <Th>
      <span className="sr-only">Actions</span>
    </Th>
  );
}
