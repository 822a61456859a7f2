import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/react";
import { Menu } from "./menu";
import { overflowEnds } from "./tabs";

afterEach(cleanup);

describe("Menu", () => {
  it("opens on click, runs the chosen item and closes", () => {
    const decommission = vi.fn();
    render(<Menu label="More actions" items={[{ label: "Refresh inventory", onSelect: vi.fn() }, { label: "Decommission", danger: true, onSelect: decommission }]}>More</Menu>);
    expect(screen.queryByRole("menu")).toBeNull();
    fireEvent.click(screen.getByRole("button", { name: /More/ }));
    expect(screen.getAllByRole("menuitem").map((m) => m.textContent)).toEqual(["Refresh inventory", "Decommission"]);
    fireEvent.click(screen.getByRole("menuitem", { name: "Decommission" }));
    expect(decommission).toHaveBeenCalledOnce();
    expect(screen.queryByRole("menu")).toBeNull();
  });

  it("closes with Escape and shows nothing without items", () => {
    const { rerender } = render(<Menu label="More actions" items={[{ label: "Decommission", onSelect: vi.fn() }]} />);
    fireEvent.click(screen.getByRole("button", { name: /More actions/ }));
    fireEvent.keyDown(screen.getByRole("menuitem"), { key: "Escape" });
    expect(screen.queryByRole("menu")).toBeNull();
    rerender(<Menu label="More actions" items={[]} />);
    expect(screen.queryByRole("button")).toBeNull();
  });
});

describe("overflowEnds", () => {
  it("tells which sides of a scrolled tab list hide tabs", () => {
    expect(overflowEnds({ scrollLeft: 0, scrollWidth: 300, clientWidth: 300 })).toEqual({ start: false, end: false });
    expect(overflowEnds({ scrollLeft: 0, scrollWidth: 800, clientWidth: 390 })).toEqual({ start: false, end: true });
    expect(overflowEnds({ scrollLeft: 200, scrollWidth: 800, clientWidth: 390 })).toEqual({ start: true, end: true });
    expect(overflowEnds({ scrollLeft: 410, scrollWidth: 800, clientWidth: 390 })).toEqual({ start: true, end: false });
  });
});
