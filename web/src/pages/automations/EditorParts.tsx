// Parts the automation builder and the policy editor share: the "General" card (name,
// organization for a new one, description, enabled, and any extra fields) and Delete with
// its confirmation.
import { useState, type ReactNode } from "react";
import type { UseQueryResult } from "@tanstack/react-query";
import type { Organization } from "../../api/types";
import { Card, CardTitle } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Dialog } from "../../components/ui/dialog";
import { Options } from "../../components/ui/dialog-form";
import { Checkbox, Field, Input, Select, Textarea } from "../../components/ui/form";
import { Notice } from "../../components/ui/feedback";
import { NoOrgsNotice } from "../../components/NoOrgsNotice";

export interface GeneralValues {
  name: string;
  description: string;
  org_id: string;
  enabled: boolean;
}

export function GeneralCard<T extends GeneralValues>({
  values,
  errors,
  isNew,
  canSwitch,
  orgs,
  onChange,
  onOrgChange,
  children,
}: {
  values: T;
  errors: Partial<Record<keyof GeneralValues, string>>;
  isNew: boolean;
  canSwitch: boolean;
  orgs: UseQueryResult<Organization[]>;
  /** The editor's own setter (its form holds more than these four fields). */
  onChange: <K extends keyof T>(k: K, v: T[K]) => void;
  /** A new organization was chosen (targets, channels and the like belong to the old one). */
  onOrgChange: (orgId: string) => void;
  /** Fields shown after the description (the enabled box comes last). */
  children?: ReactNode;
}) {
  const pickOrg = isNew && canSwitch;
  // These four keys exist on every T with the types GeneralValues gives them.
  const set = onChange as unknown as <K extends keyof GeneralValues>(k: K, v: GeneralValues[K]) => void;
  return (
    <Card>
      <CardTitle>General</CardTitle>
      <div className="space-y-3">
        <div className="grid gap-3 sm:grid-cols-[2fr_1fr]">
          <Field label="Name" error={errors.name}>
            {(p) => <Input {...p} value={values.name} onChange={(e) => set("name", e.target.value)} autoFocus={isNew} />}
          </Field>
          {pickOrg && (
            <Field label="Organization" error={errors.org_id}>
              {(p) => (
                <Select {...p} value={values.org_id} onChange={(e) => onOrgChange(e.target.value)}>
                  <Options items={orgs.data} />
                </Select>
              )}
            </Field>
          )}
        </div>
        {pickOrg && <NoOrgsNotice orgs={orgs} />}
        {!canSwitch && errors.org_id && <Notice tone="danger">{errors.org_id}</Notice>}
        <Field label="Description (optional)" error={errors.description}>
          {(p) => <Textarea {...p} rows={2} value={values.description} onChange={(e) => set("description", e.target.value)} />}
        </Field>
        {children}
        <Checkbox label="Enabled" checked={values.enabled} onChange={(e) => set("enabled", e.target.checked)} />
      </div>
    </Card>
  );
}

/** A Delete button that asks first (`what` is "automation", "policy", …). */
export function DeleteButton({ what, consequence, onDelete }: { what: string; consequence: string; onDelete: () => void }) {
  const [asking, setAsking] = useState(false);
  return (
    <>
      <Button variant="danger" onClick={() => setAsking(true)}>
        Delete
      </Button>
      <Dialog
        open={asking}
        onClose={() => setAsking(false)}
        title={`Delete this ${what}?`}
        footer={
          <>
            <Button variant="secondary" onClick={() => setAsking(false)}>
              Cancel
            </Button>
            <Button variant="danger" onClick={() => (setAsking(false), onDelete())}>
              Delete
            </Button>
          </>
        }
      >
        <p className="text-sm">{consequence}</p>
      </Dialog>
    </>
  );
}
