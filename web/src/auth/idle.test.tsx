import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { renderHook } from "@testing-library/react";
import { isIdle, useIdleSignOut } from "./idle";

describe("isIdle", () => {
  it("is idle once the whole timeout has passed without activity", () => {
    expect(isIdle(0, 29 * 60_000, 30)).toBe(false);
    expect(isIdle(0, 30 * 60_000, 30)).toBe(true);
  });
});

describe("useIdleSignOut", () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("signs out after the timeout without activity, once", () => {
    const onIdle = vi.fn();
    renderHook(() => useIdleSignOut(5, onIdle));
    vi.advanceTimersByTime(4 * 60_000);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(61_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
    vi.advanceTimersByTime(10 * 60_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it("activity starts the wait again", () => {
    const onIdle = vi.fn();
    renderHook(() => useIdleSignOut(5, onIdle));
    vi.advanceTimersByTime(4 * 60_000);
    window.dispatchEvent(new KeyboardEvent("keydown"));
    vi.advanceTimersByTime(4 * 60_000);
    expect(onIdle).not.toHaveBeenCalled();
    vi.advanceTimersByTime(61_000 + 15_000);
    expect(onIdle).toHaveBeenCalledTimes(1);
  });

  it("does nothing without a timeout", () => {
    const onIdle = vi.fn();
    renderHook(() => useIdleSignOut(null, onIdle));
    vi.advanceTimersByTime(24 * 3600_000);
    expect(onIdle).not.toHaveBeenCalled();
  });
});
