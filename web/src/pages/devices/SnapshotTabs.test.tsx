import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { QueryClient, QueryClientProvider } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { api } from "../../api/instance";
import { ProcessesTab, UsersTab } from "./SnapshotTabs";

function wrap(children: ReactNode) {
  const client = new QueryClient({ defaultOptions: { queries: { retry: false } } });
  return <QueryClientProvider client={client}>{children}</QueryClientProvider>;
}

afterEach(cleanup);

describe("ProcessesTab", () => {
  it("lists the busiest processes first and sorts by memory on request", async () => {
    const get = vi.spyOn(api, "GET").mockResolvedValue({
      data: [
        { pid: 812, name: "postgres", user: "postgres", cpu_percent: 35.5, memory_bytes: 400 * 1024 * 1024 },
        { pid: 1, name: "systemd", user: null, cpu_percent: 0.1, memory_bytes: 12 * 1024 * 1024 },
      ],
    } as never);
    render(wrap(<ProcessesTab id="d1" />));
    expect(await screen.findByText("systemd")).toBeTruthy();
    expect(screen.getAllByText("postgres")).toHaveLength(2);
    expect(screen.getByText("400 MB")).toBeTruthy();
    expect(get).toHaveBeenLastCalledWith("/api/v1/devices/{id}/processes", { params: { path: { id: "d1" }, query: expect.objectContaining({ sort: "-cpu" }) }, signal: expect.anything() });
    fireEvent.click(screen.getByRole("button", { name: /Memory/ }));
    await vi.waitFor(() =>
      expect(get).toHaveBeenLastCalledWith("/api/v1/devices/{id}/processes", { params: { path: { id: "d1" }, query: expect.objectContaining({ sort: "memory" }) }, signal: expect.anything() }),
    );
  });
});

describe("UsersTab", () => {
  it("shows each session with its terminal and origin", async () => {
    vi.spyOn(api, "GET").mockResolvedValue({
      data: [{ username: "carol", terminal: "pts/1", host: "10.0.0.9", login_time: "2026-01-02T09:00:00Z" }],
    } as never);
    render(wrap(<UsersTab id="d1" />));
    expect(await screen.findByText("carol")).toBeTruthy();
    expect(screen.getByText("pts/1")).toBeTruthy();
    expect(screen.getByText("10.0.0.9")).toBeTruthy();
  });
});
