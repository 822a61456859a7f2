import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { api } from "../api/instance";
import { InstallCommand } from "./InstallCommand";

function wrap(children: ReactNode) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

afterEach(cleanup);

const ONE_LINER = "curl -fsSL https://rmm.example.test/install.sh | sudo sh -s -- --key bzk_abc";
const ENROLL = "breeze-agent enroll --server https://rmm.example.test --key bzk_abc";

describe("InstallCommand", () => {
  it("shows the one-liner to copy and the manual steps with each build's checksum", async () => {
    const get = vi.spyOn(api, "GET").mockResolvedValue({
      public_url: "https://rmm.example.test",
      install_script_url: "https://rmm.example.test/install.sh",
      agents: [
        { platform: "linux-x86_64", os: "linux", arch: "x86_64", url: "https://rmm.example.test/download/agent/linux-x86_64", file_name: "breeze-agent-linux-x86_64", size: 9_000_000, sha256: "ab".repeat(32) },
      ],
      missing: ["linux-aarch64"],
    } as never);
    render(wrap(<InstallCommand installScriptCommand={ONE_LINER} enrollCommand={ENROLL} />));
    expect((screen.getByLabelText("Install command") as HTMLTextAreaElement).value).toBe(ONE_LINER);
    expect((screen.getByLabelText("Enroll command") as HTMLTextAreaElement).value).toBe(ENROLL);
    expect(screen.getByRole("button", { name: "Copy Install command" })).toBeTruthy();
    const link = await screen.findByRole("link", { name: "linux-x86_64" });
    expect(link.getAttribute("href")).toBe("https://rmm.example.test/download/agent/linux-x86_64");
    expect(screen.getByLabelText("SHA-256 of linux-x86_64").textContent).toContain("ab".repeat(32));
    expect(screen.getByText(/Not built on this server: linux-aarch64/)).toBeTruthy();
    expect(get).toHaveBeenCalledWith("/download/agent", expect.anything());
  });

  it("says how to build the agent when the server has no Linux build", async () => {
    vi.spyOn(api, "GET").mockResolvedValue({ public_url: "http://x", install_script_url: "http://x/install.sh", agents: [], missing: ["linux-x86_64"] } as never);
    render(wrap(<InstallCommand installScriptCommand={ONE_LINER} enrollCommand={ENROLL} />));
    expect(await screen.findByText(/cargo build --release -p breeze-agent/)).toBeTruthy();
  });
});
