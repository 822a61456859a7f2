import { describe, expect, it } from "vitest";
import { greeting, inviteOutcome, osText } from "./format";

describe("osText", () => {
  it("shows a Linux distribution's own name with the version once", () => {
    // What the agent reports on Debian 12: version "12", build "12 (bookworm)".
    expect(osText({ os_type: "linux", os_name: "Debian GNU/Linux", os_version: "12", os_build: "12 (bookworm)" })).toBe("Debian GNU/Linux 12 (bookworm)");
    expect(osText({ os_type: "linux", os_name: "Ubuntu", os_version: "24.04", os_build: "24.04.1 LTS (Noble Numbat)" })).toBe("Ubuntu 24.04.1 LTS (Noble Numbat)");
  });

  it("keeps the version when the build says something else", () => {
    expect(osText({ os_type: "windows", os_name: "Windows", os_version: "11 (22631)", os_build: "Windows 11 Pro" })).toBe("Windows 11 (22631)");
    expect(osText({ os_type: "macos", os_name: "Darwin", os_version: "14.2", os_build: "macOS 14.2 Sonoma" })).toBe("macOS 14.2");
  });

  it("falls back to the OS type before the first inventory", () => {
    expect(osText({ os_type: "linux", os_name: null, os_version: "12", os_build: null })).toBe("Linux 12");
    expect(osText({ os_type: "windows", os_name: undefined, os_version: null, os_build: null })).toBe("Windows");
  });

  it("does not repeat a name the version already carries", () => {
    // What a Windows agent sends at enrollment, before the first inventory.
    expect(osText({ os_type: "windows", os_name: null, os_version: "Windows Server 2022", os_build: "20348" })).toBe("Windows Server 2022");
    expect(osText({ os_type: "windows", os_name: "Windows", os_version: "Windows 11 Pro", os_build: null })).toBe("Windows 11 Pro");
    expect(osText({ os_type: "linux", os_name: "Debian GNU/Linux", os_version: "12", os_build: null })).toBe("Debian GNU/Linux 12");
  });
});

describe("greeting", () => {
  const user = { id: "u1", email: "ann@acme.test", name: "Ann", status: "active", mfa_enabled: false, last_login_at: "2026-01-02T09:00:00Z", created_at: "2026-01-02T08:59:00Z" };

  it("does not welcome back someone signing in for the first time", () => {
    expect(greeting({ user, previous_login_at: null })).toBe("Welcome to Breeze, Ann.");
    expect(greeting({ user })).toBe("Welcome to Breeze, Ann.");
  });

  it("welcomes back someone who signed in before", () => {
    expect(greeting({ user, previous_login_at: "2026-01-01T08:00:00Z" })).toBe("Welcome back, Ann.");
  });
});

describe("inviteOutcome", () => {
  const member = { name: "Bea", email: "bea@one.test" };

  it("says no e-mail went out when SMTP is off", () => {
    const t = inviteOutcome({ member, email_queued: false });
    expect(t).toContain("No e-mail was sent");
    expect(t).not.toContain("e-mailed");
  });

  it("says the e-mail is queued when it is", () => {
    expect(inviteOutcome({ member, email_queued: true })).toContain("An e-mail with this link is queued");
  });
});
