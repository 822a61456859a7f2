import { useState, type FormEvent, type ReactNode } from "react";
import { Button } from "./button";

/**
 * The footer of an edit dialog: an optional two-step Delete on the left, Cancel and the
 * submit button on the right.
 */
export function DialogActions({
  onCancel,
  onSubmit,
  busy,
  submitLabel,
  onDelete,
  deleteLabel = "Delete",
}: {
  onCancel: () => void;
  onSubmit: () => void;
  busy?: boolean;
  submitLabel: string;
  onDelete?: () => void;
  deleteLabel?: string;
}) {
  const [confirming, setConfirming] = useState(false);
  return (
    <>
      {onDelete && (
        <Button variant="danger" className="mr-auto" onClick={() => (confirming ? onDelete() : setConfirming(true))}>
          {confirming ? `Really ${deleteLabel.toLowerCase()}?` : deleteLabel}
        </Button>
      )}
      <Button variant="secondary" onClick={onCancel}>
        Cancel
      </Button>
      <Button loading={busy} onClick={onSubmit}>
        {submitLabel}
      </Button>
    </>
  );
}

/** A dialog's form: Enter submits, the browser's own validation stays off (Zod shows errors). */
export function DialogForm({ onSubmit, children }: { onSubmit: () => void; children: ReactNode }) {
  return (
    <form
      className="space-y-3"
      noValidate
      onSubmit={(e: FormEvent) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      {children}
      <button type="submit" hidden />
    </form>
  );
}

/** `<option>`s for a list of named things, after a placeholder. */
export function Options({ items, placeholder = "Choose…" }: { items: Array<{ id: string; name: string }> | undefined; placeholder?: string }) {
  return (
    <>
      <option value="">{placeholder}</option>
      {items?.map((i) => (
        <option key={i.id} value={i.id}>
          {i.name}
        </option>
      ))}
    </>
  );
}
