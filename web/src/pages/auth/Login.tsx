import { useState } from "react";
import { z } from "zod";
import { Link, useLocation, useNavigate } from "react-router";
import { AuthLayout } from "./AuthLayout";
import { Field, Input } from "../../components/ui/form";
import { Button } from "../../components/ui/button";
import { Notice } from "../../components/ui/feedback";
import { serverErrors, useForm } from "../../lib/form";
import { api } from "../../api/instance";
import type { TokenPair } from "../../api/types";
import { useSession } from "../../auth/session";
import { email } from "./schemas";

const loginSchema = z.object({ email, password: z.string().min(1, "Enter your password.") });
const mfaSchema = z.object({ code: z.string().trim().min(6, "Enter the 6-digit code or a recovery code.") });

function asPair(r: Partial<TokenPair>): TokenPair | null {
  return r.access_token && r.refresh_token
    ? { access_token: r.access_token, refresh_token: r.refresh_token, token_type: r.token_type ?? "Bearer", expires_in: r.expires_in ?? 900 }
    : null;
}

export function LoginPage() {
  const { signIn } = useSession();
  const navigate = useNavigate();
  const location = useLocation();
  const from = (location.state as { from?: string } | null)?.from ?? "/";
  const [mfaToken, setMfaToken] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const login = useForm<z.infer<typeof loginSchema>>(loginSchema, { email: "", password: "" });
  const mfa = useForm<z.infer<typeof mfaSchema>>(mfaSchema, { code: "" });

  const done = (pair: TokenPair) => {
    signIn(pair);
    navigate(from, { replace: true });
  };

  const submitLogin = async (e: React.FormEvent) => {
    e.preventDefault();
    const v = login.validate();
    if (!v) return;
    setBusy(true);
    try {
      const r = await api.POST("/api/v1/auth/login", { body: v, auth: false });
      const pair = asPair(r);
      if (r.mfa_required && r.mfa_token) setMfaToken(r.mfa_token);
      else if (pair) done(pair);
      else login.setServerErrors({ _form: "The server answered without tokens." });
    } catch (err) {
      login.setServerErrors(serverErrors(err, ["email", "password"]));
    } finally {
      setBusy(false);
    }
  };

  const submitMfa = async (e: React.FormEvent) => {
    e.preventDefault();
    const v = mfa.validate();
    if (!v || !mfaToken) return;
    setBusy(true);
    try {
      const r = await api.POST("/api/v1/auth/mfa/verify", { body: { mfa_token: mfaToken, code: v.code.replace(/\s/g, "") }, auth: false });
      const pair = asPair(r);
      if (pair) done(pair);
      else mfa.setServerErrors({ _form: "The server answered without tokens." });
    } catch (err) {
      mfa.setServerErrors(serverErrors(err, ["code"]));
    } finally {
      setBusy(false);
    }
  };

  if (mfaToken) {
    return (
      <AuthLayout title="Two-factor authentication" subtitle="Enter the 6-digit code from your authenticator app, or one of your recovery codes.">
        <form onSubmit={submitMfa} noValidate className="space-y-4">
          <Field label="Code" error={mfa.errors.code}>
            {(p) => <Input {...p} {...mfa.bind("code")} inputMode="numeric" autoComplete="one-time-code" autoFocus className="font-mono tracking-widest" />}
          </Field>
          {mfa.errors._form && <Notice tone="danger">{mfa.errors._form}</Notice>}
          <Button type="submit" className="w-full" loading={busy}>
            Verify
          </Button>
          <Button variant="link" className="w-full" onClick={() => setMfaToken(null)}>
            Use another account
          </Button>
        </form>
      </AuthLayout>
    );
  }

  return (
    <AuthLayout title="Sign in to Breeze" footer={<Link className="text-primary hover:underline" to="/forgot-password">Forgot your password?</Link>}>
      <form onSubmit={submitLogin} noValidate className="space-y-4">
        <Field label="E-mail" error={login.errors.email}>
          {(p) => <Input {...p} {...login.bind("email")} type="email" autoComplete="username" autoFocus />}
        </Field>
        <Field label="Password" error={login.errors.password}>
          {(p) => <Input {...p} {...login.bind("password")} type="password" autoComplete="current-password" />}
        </Field>
        {login.errors._form && <Notice tone="danger">{login.errors._form}</Notice>}
        <Button type="submit" className="w-full" loading={busy}>
          Sign in
        </Button>
      </form>
    </AuthLayout>
  );
}
