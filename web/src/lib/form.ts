// Small form state with Zod validation: errors appear inline after a field is touched or on
// submit, and a server error naming a field lands on that field.
import { useCallback, useState } from "react";
import type { z } from "zod";
import { ApiError, errorMessage } from "../api/client";

export type Errors<T> = Partial<Record<keyof T | "_form", string>>;

export function zodErrors<T>(schema: z.ZodType<T>, values: unknown): Errors<T> {
  const r = schema.safeParse(values);
  if (r.success) return {};
  const out: Errors<T> = {};
  for (const issue of r.error.issues) {
    const key = (issue.path[0] ?? "_form") as keyof T | "_form";
    if (!out[key]) out[key] = issue.message;
  }
  return out;
}

/**
 * Map a server error to the form: `field` names the request field (snake_case), which is
 * also the form's key; `aliases` maps request fields to differently named form fields.
 */
export function serverErrors<T>(e: unknown, fields: readonly string[], aliases: Record<string, string> = {}): Errors<T> {
  if (e instanceof ApiError && e.field) {
    const f = aliases[e.field] ?? e.field;
    if (fields.includes(f)) return { [f]: e.message } as Errors<T>;
  }
  return { _form: errorMessage(e) } as Errors<T>;
}

export function useForm<T extends Record<string, unknown>>(schema: z.ZodType<T>, initial: T) {
  const [values, setValues] = useState<T>(initial);
  const [touched, setTouched] = useState<Partial<Record<keyof T, boolean>>>({});
  const [submitted, setSubmitted] = useState(false);
  const [server, setServer] = useState<Errors<T>>({});

  const clientErrors = zodErrors(schema, values);
  const errors: Errors<T> = {};
  for (const k of Object.keys(clientErrors) as Array<keyof T | "_form">) {
    if (submitted || (k !== "_form" && touched[k as keyof T])) errors[k] = clientErrors[k];
  }
  for (const k of Object.keys(server) as Array<keyof T | "_form">) {
    if (!errors[k]) errors[k] = server[k];
  }

  const set = useCallback(<K extends keyof T>(k: K, v: T[K]) => {
    setValues((prev) => ({ ...prev, [k]: v }));
    setServer((prev) => {
      if (!prev[k] && !prev._form) return prev;
      const next = { ...prev };
      delete next[k];
      delete next._form;
      return next;
    });
  }, []);

  /** Props for a text input bound to `k`. */
  const bind = <K extends keyof T>(k: K) => ({
    value: String(values[k] ?? ""),
    onChange: (e: { target: { value: string } }) => set(k, e.target.value as T[K]),
    onBlur: () => setTouched((t) => ({ ...t, [k]: true })),
  });

  /** Validates; returns the parsed values or null (and shows every error). */
  const validate = (): T | null => {
    setSubmitted(true);
    const r = schema.safeParse(values);
    return r.success ? r.data : null;
  };

  return { values, set, bind, errors, validate, setServerErrors: setServer, setValues };
}
