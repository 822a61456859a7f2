import { useState } from "react";
import { z } from "zod";
import { Link, useNavigate, useSearchParams } from "react-router";
import { AuthLayout } from "./AuthLayout";
import { Field, Input } from "../../components/ui/form";
import { Button } from "../../components/ui/button";
import { Notice } from "../../components/ui/feedback";
import { serverErrors, useForm } from "../../lib/form";
import { api } from "../../api/instance";
import { useSession } from "../../auth/session";
import { email, newPassword } from "./schemas";

const back = (
  <Link className="text-primary hover:underline" to="/login">
    Back to sign in
  </Link>
);

export function ForgotPasswordPage() {
  const [sent, setSent] = useState(false);
  const [busy, setBusy] = useState(false);
  const schema = z.object({ email });
  const f = useForm<z.infer<typeof schema>>(schema, { email: "" });
  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const v = f.validate();
    if (!v) return;
    setBusy(true);
    try {
      await api.POST("/api/v1/auth/forgot-password", { body: v, auth: false });
      setSent(true);
    } catch (err) {
      f.setServerErrors(serverErrors(err, ["email"]));
    } finally {
      setBusy(false);
    }
  };
  return (
    <AuthLayout title="Reset your password" subtitle="We will e-mail you a link to choose a new password." footer={back}>
      {sent ? (
        <Notice tone="ok">If an account uses that address, a reset link is on its way. The link works once and expires soon.</Notice>
      ) : (
        <form onSubmit={submit} noValidate className="space-y-4">
          <Field label="E-mail" error={f.errors.email}>
            {(p) => <Input {...p} {...f.bind("email")} type="email" autoComplete="email" autoFocus />}
          </Field>
          {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
          <Button type="submit" className="w-full" loading={busy}>
            Send reset link
          </Button>
        </form>
      )}
    </AuthLayout>
  );
}

const pwSchema = z
  .object({ password: newPassword, confirm: z.string(), name: z.string() })
  .refine((v) => v.password === v.confirm, { path: ["confirm"], message: "The passwords differ." });
type PwValues = z.infer<typeof pwSchema>;

/** Reset password (`?token=` from the e-mail) and accept invite share this form. */
function TokenPasswordPage({ mode }: { mode: "reset" | "invite" }) {
  const [params] = useSearchParams();
  const token = params.get("token") ?? "";
  const navigate = useNavigate();
  const { signIn } = useSession();
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);
  const f = useForm<PwValues>(pwSchema, { password: "", confirm: "", name: "" });

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const v = f.validate();
    if (!v) return;
    setBusy(true);
    try {
      if (mode === "reset") {
        await api.POST("/api/v1/auth/reset-password", { body: { token, password: v.password }, auth: false });
        setDone(true);
      } else {
        const pair = await api.POST("/api/v1/auth/accept-invite", {
          body: { token, password: v.password, ...(v.name.trim() ? { name: v.name.trim() } : {}) },
          auth: false,
        });
        signIn(pair);
        navigate("/", { replace: true });
      }
    } catch (err) {
      f.setServerErrors(serverErrors<PwValues>(err, ["password", "name"]));
    } finally {
      setBusy(false);
    }
  };

  const title = mode === "reset" ? "Choose a new password" : "Accept your invitation";
  if (!token) {
    return (
      <AuthLayout title={title} footer={back}>
        <Notice tone="danger">This link has no token. Open the link from the e-mail again, or ask for a new one.</Notice>
      </AuthLayout>
    );
  }
  if (done) {
    return (
      <AuthLayout title={title} footer={back}>
        <Notice tone="ok">Your password was changed. Sign in with the new one.</Notice>
      </AuthLayout>
    );
  }
  return (
    <AuthLayout title={title} subtitle={mode === "invite" ? "Set a password to finish creating your account." : undefined} footer={back}>
      <form onSubmit={submit} noValidate className="space-y-4">
        {mode === "invite" && (
          <Field label="Your name (optional)" hint="Leave empty to keep the name you were invited with." error={f.errors.name}>
            {(p) => <Input {...p} {...f.bind("name")} autoComplete="name" />}
          </Field>
        )}
        <Field label="New password" hint="At least 12 characters." error={f.errors.password}>
          {(p) => <Input {...p} {...f.bind("password")} type="password" autoComplete="new-password" autoFocus />}
        </Field>
        <Field label="Repeat the password" error={f.errors.confirm}>
          {(p) => <Input {...p} {...f.bind("confirm")} type="password" autoComplete="new-password" />}
        </Field>
        {f.errors._form && <Notice tone="danger">{f.errors._form}</Notice>}
        <Button type="submit" className="w-full" loading={busy}>
          {mode === "reset" ? "Change password" : "Create account"}
        </Button>
      </form>
    </AuthLayout>
  );
}

export function ResetPasswordPage() {
  return <TokenPasswordPage mode="reset" />;
}
export function AcceptInvitePage() {
  return <TokenPasswordPage mode="invite" />;
}
