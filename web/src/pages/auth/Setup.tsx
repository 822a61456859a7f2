import { z } from "zod";
import { useNavigate } from "react-router";
import { useQueryClient } from "@tanstack/react-query";
import { AuthLayout } from "./AuthLayout";
import { Field, Input } from "../../components/ui/form";
import { Button } from "../../components/ui/button";
import { Notice } from "../../components/ui/feedback";
import { serverErrors, useForm } from "../../lib/form";
import { api } from "../../api/instance";
import type { SetupRequest } from "../../api/types";
import { useSession } from "../../auth/session";
import { email, newPassword } from "./schemas";
import { useState } from "react";

const schema = z
  .object({
    setup_token: z.string().trim().min(1, "Paste the setup token."),
    partner_name: z.string().trim().min(1, "Name your company or team."),
    admin_name: z.string().trim().min(1, "Enter your name."),
    admin_email: email,
    admin_password: newPassword,
    confirm: z.string(),
  })
  .refine((v) => v.admin_password === v.confirm, { path: ["confirm"], message: "The passwords differ." });

type Values = z.infer<typeof schema>;
const FIELDS = ["setup_token", "partner_name", "admin_name", "admin_email", "admin_password", "confirm"];

export function SetupPage() {
  const { signIn } = useSession();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [busy, setBusy] = useState(false);
  const f = useForm<Values>(schema, { setup_token: "", partner_name: "", admin_name: "", admin_email: "", admin_password: "", confirm: "" });

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const v = f.validate();
    if (!v) return;
    setBusy(true);
    try {
      const body: SetupRequest = {
        setup_token: v.setup_token,
        partner_name: v.partner_name,
        admin_name: v.admin_name,
        admin_email: v.admin_email,
        admin_password: v.admin_password,
      };
      const pair = await api.POST("/api/v1/setup", { body, auth: false });
      signIn(pair);
      qc.setQueryData(["setup-status"], { needs_setup: false });
      // A new MSP has nothing yet: lead it to its first device.
      navigate("/get-started", { replace: true });
    } catch (err) {
      f.setServerErrors(serverErrors<Values>(err, FIELDS));
    } finally {
      setBusy(false);
    }
  };

  return (
    <AuthLayout title="Set up Breeze" subtitle="Create your company and its first administrator. This page works once.">
      <form onSubmit={submit} noValidate className="space-y-4">
        <Notice>
          The server wrote a one-time setup token to <code className="font-mono">&lt;data-dir&gt;/setup-token</code> (and
          printed it in its log) when it started. Run <code className="font-mono">cat breeze-data/setup-token</code> on the
          server, or the same under the <code className="font-mono">--data-dir</code> you gave it.
        </Notice>
        <Field label="Setup token" error={f.errors.setup_token}>
          {(p) => <Input {...p} {...f.bind("setup_token")} autoComplete="off" spellCheck={false} className="font-mono" autoFocus />}
        </Field>
        <Field label="Company (partner) name" hint="Your MSP or IT team; customers become organizations under it." error={f.errors.partner_name}>
          {(p) => <Input {...p} {...f.bind("partner_name")} autoComplete="organization" />}
        </Field>
        <Field label="Your name" error={f.errors.admin_name}>
          {(p) => <Input {...p} {...f.bind("admin_name")} autoComplete="name" />}
        </Field>
        <Field label="E-mail" error={f.errors.admin_email}>
          {(p) => <Input {...p} {...f.bind("admin_email")} type="email" autoComplete="email" />}
        </Field>
        <Field label="Password" hint="At least 12 characters." error={f.errors.admin_password}>
          {(p) => <Input {...p} {...f.bind("admin_password")} type="password" autoComplete="new-password" />}
        </Field>
        <Field label="Repeat the password" error={f.errors.confirm}>
          {(p) => <Input {...p} {...f.bind("confirm")} type="password" autoComplete="new-password" />}
        </Field>
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
        <Button type="submit" className="w-full" loading={busy}>
          Create and sign in
        </Button>
      </form>
    </AuthLayout>
  );
}
