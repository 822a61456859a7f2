/** Utilities where a later class replaces an earlier one of the same kind. */
const GROUPS = [/^w-/, /^h-/, /^max-w-/, /^min-w-/, /^max-h-/, /^min-h-/];

/**
 * Joins class names. A width or height utility given later (by a caller's `className`)
 * replaces the component's default of the same kind, so `<Select className="w-auto">`
 * is really auto-width: both would otherwise be in the stylesheet, and the stylesheet's
 * order, not the markup's, would pick the winner. Variants (`sm:w-64`) are left alone.
 */
export function cn(...parts: Array<string | false | null | undefined>): string {
  const classes = parts.filter(Boolean).join(" ").split(/\s+/).filter(Boolean);
  const keep: string[] = [];
  for (let i = 0; i < classes.length; i++) {
    const c = classes[i];
    const group = GROUPS.find((g) => g.test(c));
    // The prefixes are anchored and disjoint, so a later class in the same group replaces c.
    if (group && classes.slice(i + 1).some((later) => group.test(later))) continue;
    keep.push(c);
  }
  return keep.join(" ");
}
