// Shown instead of the console while the user's MSP requires two-factor authentication and
// they have not set it up: the server answers nothing else until they do.
import { Logo } from "../../layout/Logo";
import { Button } from "../../components/ui/button";
import { useSession } from "../../auth/session";
import { MfaCard } from "../admin/MfaCard";

export default function MfaRequiredPage() {
  const { me, signOut } = useSession();
  return (
    <main className="mx-auto max-w-3xl space-y-4 px-4 py-10">
      <div className="flex items-center justify-between">
        <Logo />
        <Button variant="ghost" size="sm" onClick={() => void signOut()}>
          Sign out
        </Button>
      </div>
      <div>
        <h1 className="text-xl font-semibold tracking-tight">Set up two-factor authentication</h1>
        <p className="mt-1 text-sm text-muted-fg">
          Your organization requires two-factor authentication for every account. Set it up for {me?.user.email} to continue: you will need an authenticator app on
          your phone.
        </p>
      </div>
      <MfaCard />
    </main>
  );
}
