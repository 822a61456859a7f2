import type { Device, Invited, Me } from "../api/types";

export function formatDateTime(s: string | null | undefined): string {
  if (!s) return "—";
  const d = new Date(s);
  return Number.isNaN(d.getTime()) ? s : d.toLocaleString();
}

export function relativeTime(s: string | null | undefined, now = Date.now()): string {
  if (!s) return "never";
  const t = new Date(s).getTime();
  if (Number.isNaN(t)) return s;
  const sec = Math.round((now - t) / 1000);
  if (sec < 45) return "just now";
  const min = Math.round(sec / 60);
  if (min < 60) return `${min} min ago`;
  const h = Math.round(min / 60);
  if (h < 24) return `${h} h ago`;
  return `${Math.round(h / 24)} d ago`;
}

export function formatBytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "—";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 && i > 0 ? 1 : 0)} ${units[i]}`;
}

export function osLabel(os: string | null | undefined): string {
  return os === "windows" ? "Windows" : os === "macos" ? "macOS" : os === "linux" ? "Linux" : (os ?? "—");
}

/**
 * The operating system as the agent reported it: the distribution's or product's name
 * with its version, e.g. "Debian GNU/Linux 12 (bookworm)". A Linux build repeats the
 * version with the codename ("12 (bookworm)"), so it replaces the bare version rather
 * than following it. Before the first OS inventory the type stands in for the name; a
 * version that starts with the name already is shown alone.
 */
export function osText(d: Pick<Device, "os_type" | "os_name" | "os_version" | "os_build">): string {
  const version = d.os_version?.trim() ?? "";
  const build = d.os_build?.trim() ?? "";
  const shown = version && build.startsWith(version) ? build : version;
  const reported = d.os_name?.trim();
  const name = !reported ? osLabel(d.os_type) : reported === "Darwin" ? "macOS" : reported;
  // A version that already names the OS ("Windows Server 2022") is not prefixed again.
  if (shown.toLowerCase().startsWith(`${name.toLowerCase()} `)) return shown;
  return [name, shown].filter(Boolean).join(" ");
}

/** "Welcome back" only to someone who signed in before this session's sign-in. */
export function greeting(me: Pick<Me, "user" | "previous_login_at"> | null | undefined): string {
  const name = me?.user.name ? `, ${me.user.name}` : "";
  return me?.previous_login_at ? `Welcome back${name}.` : `Welcome to Breeze${name}.`;
}

/** What happened to an invitation: an e-mail queued, or only the link to pass on. */
export function inviteOutcome(i: Pick<Invited, "email_queued"> & { member: Pick<Invited["member"], "name" | "email"> }): string {
  const who = `${i.member.name} (${i.member.email})`;
  return i.email_queued
    ? `${who} was invited. An e-mail with this link is queued for them; you can also pass the link on yourself. It works once.`
    : `${who} was invited. No e-mail was sent because SMTP is not set up (Settings → E-mail (SMTP)): copy this link and send it to them. It works once.`;
}
