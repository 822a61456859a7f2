// The save and delete steps every edit dialog shares: validate, call the server, refresh the
// lists, say what happened, close — or put the server's error on the named field.
import { useState } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { errorMessage } from "../api/client";
import { useToast } from "../components/ui/toast";
import { serverErrors, type Errors } from "./form";

export function useEditDialog<V>(opts: {
  form: { validate(): V | null; setServerErrors(e: Errors<V>): void };
  /** Request fields the server may name in an error (shown on the same form field). */
  fields: readonly string[];
  /** Query key prefix to refresh after a change. */
  invalidate: string;
  onDone: () => void;
  /** Saves and returns the message to show. */
  save: (v: V) => Promise<string>;
  remove?: () => Promise<string>;
  /** Extra checks outside the form schema; false stops the save. */
  precheck?: () => boolean;
}) {
  const qc = useQueryClient();
  const toast = useToast();
  const [busy, setBusy] = useState(false);

  const finish = (message: string) => {
    void qc.invalidateQueries({ queryKey: [opts.invalidate] });
    toast(message);
    opts.onDone();
  };

  const submit = async () => {
    const v = opts.form.validate();
    const ok = opts.precheck ? opts.precheck() : true;
    if (!v || !ok) return;
    setBusy(true);
    try {
      finish(await opts.save(v));
    } catch (e) {
      opts.form.setServerErrors(serverErrors<V>(e, opts.fields));
    } finally {
      setBusy(false);
    }
  };

  const remove = opts.remove
    ? async () => {
        try {
          finish(await opts.remove!());
        } catch (e) {
          opts.form.setServerErrors({ _form: errorMessage(e) } as Errors<V>);
        }
      }
    : undefined;

  return { busy, submit, remove };
}
