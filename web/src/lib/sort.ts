/** Every sort value of some fields: `field` (ascending) and `-field` (descending). */
export function sortsOf<F extends string>(fields: readonly F[]): Array<F | `-${F}`> {
  return fields.flatMap((f) => [f, `-${f}` as const]);
}

/**
 * `value` when it is one of the sort values an endpoint accepts, else `fallback`. The lists
 * are checked against the endpoint's generated types with `satisfies`, so a sort the server
 * does not know cannot be offered; a stale value (an old link) falls back instead of a 422.
 */
export function pickSort<T extends string>(value: string, allowed: readonly T[], fallback: T): T {
  return oneOf(value, allowed) ?? fallback;
}

/** `value` when it is one of `allowed` (a filter read from the address bar), else undefined. */
export function oneOf<T extends string>(value: string | null | undefined, allowed: readonly T[]): T | undefined {
  return value != null && (allowed as readonly string[]).includes(value) ? (value as T) : undefined;
}
