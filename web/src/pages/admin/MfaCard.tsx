// Two-factor authentication enrolment for the signed-in user: on the Settings page, and on
// its own when the partner requires MFA before anything else.
import { useEffect, useState } from "react";
import QRCode from "qrcode";
import { useQueryClient } from "@tanstack/react-query";
import { api } from "../../api/instance";
import type { MfaSetupResponse } from "../../api/types";
import { Badge, Card, CardTitle } from "../../components/ui/card";
import { Button } from "../../components/ui/button";
import { Field, Input } from "../../components/ui/form";
import { Notice } from "../../components/ui/feedback";
import { useSession } from "../../auth/session";
import { errorMessage } from "../../api/client";
import { CopyField } from "../../components/ui/copy";

export function MfaCard() {
  const { me } = useSession();
  const qc = useQueryClient();
  const [setup, setSetup] = useState<MfaSetupResponse | null>(null);
  const [qr, setQr] = useState<string | null>(null);
  const [code, setCode] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [done, setDone] = useState(false);

  useEffect(() => {
    if (!setup) return;
    let live = true;
    QRCode.toDataURL(setup.otpauth_uri, { margin: 1, width: 200, errorCorrectionLevel: "M" })
      .then((url) => live && setQr(url))
      .catch(() => live && setQr(null));
    return () => {
      live = false;
    };
  }, [setup]);

  const start = async () => {
    setBusy(true);
    setError(null);
    try {
      setSetup(await api.POST("/api/v1/auth/mfa/setup"));
    } catch (e) {
      setError(errorMessage(e));
    } finally {
      setBusy(false);
    }
  };
  const confirm = async (e: React.FormEvent) => {
    e.preventDefault();
    if (!/^\d{6}$/.test(code.trim())) {
      setError("Enter the 6-digit code your app shows.");
      return;
    }
    setBusy(true);
    setError(null);
    try {
      const r = await api.POST("/api/v1/auth/mfa/verify", { body: { code: code.trim() } });
      if (r.mfa_enabled) {
        setDone(true);
        void qc.invalidateQueries({ queryKey: ["me"] });
      }
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Card className="lg:col-span-2">
      <CardTitle>
        Two-factor authentication{" "}
        {me?.user.mfa_enabled || done ? (
          <Badge tone="ok">on</Badge>
        ) : (
          <Badge tone="warn">off</Badge>
        )}
      </CardTitle>
      {done ? (
        <Notice tone="ok">Two-factor authentication is on. Keep your recovery codes somewhere safe: each works once if you lose your phone.</Notice>
      ) : me?.user.mfa_enabled && !setup ? (
        <p className="text-sm text-muted-fg">Sign-ins ask for a code from your authenticator app. To move to a new phone, set it up again.</p>
      ) : null}
      {!setup && !done && (
        <Button className="mt-3" variant={me?.user.mfa_enabled ? "secondary" : "primary"} loading={busy} onClick={start}>
          {me?.user.mfa_enabled ? "Set up again" : "Set up two-factor authentication"}
        </Button>
      )}
      {setup && !done && (
        <div className="grid gap-6 md:grid-cols-[auto_1fr]">
          <div className="space-y-2">
            <p className="text-sm font-medium">1. Scan with your authenticator app</p>
            {qr ? <img src={qr} alt="QR code for your authenticator app" width={200} height={200} className="rounded-md bg-white p-2" /> : <p className="text-sm">Could not draw the QR code; type the key instead.</p>}
            <p className="text-xs text-muted-fg">Or type this key:</p>
            <code className="block break-all font-mono text-sm" data-testid="mfa-secret">
              {setup.secret}
            </code>
          </div>
          <div className="space-y-4">
            <div>
              <p className="mb-2 text-sm font-medium">2. Save your recovery codes</p>
              <CopyField label="Recovery codes (shown once)" value={setup.recovery_codes.join("\n")} />
            </div>
            <form onSubmit={confirm} noValidate className="space-y-2">
              <p className="text-sm font-medium">3. Enter the code your app shows</p>
              <Field label="Code" error={error}>
                {(p) => <Input {...p} value={code} onChange={(e) => setCode(e.target.value)} inputMode="numeric" autoComplete="one-time-code" className="w-40 font-mono tracking-widest" />}
              </Field>
              <Button type="submit" loading={busy}>
                Turn on
              </Button>
            </form>
          </div>
        </div>
      )}
      {!setup && error && (
        <div className="mt-3">
          <Notice tone="danger">{error}</Notice>
        </div>
      )}
    </Card>
  );
}
