// The partner's idle timeout in the console: after that long without the user touching the
// page, it signs out. (The server ends the sign-in too once its refresh token goes unused
// that long, but pages that poll keep using it; only the console knows the user is away.)
import { useEffect, useRef } from "react";

/** What counts as the user being there. */
export const ACTIVITY_EVENTS = ["pointerdown", "pointermove", "keydown", "wheel", "touchstart", "scroll"] as const;

/** True when `lastActivity` (ms) is more than `minutes` before `now` (ms). */
export function isIdle(lastActivity: number, now: number, minutes: number): boolean {
  return now - lastActivity >= minutes * 60_000;
}

/** Calls `onIdle` once the user has been away `minutes`; nothing when `minutes` is empty. */
export function useIdleSignOut(minutes: number | null | undefined, onIdle: () => void, target: Window | null = typeof window === "undefined" ? null : window) {
  const callback = useRef(onIdle);
  useEffect(() => {
    callback.current = onIdle;
  }, [onIdle]);
  useEffect(() => {
    if (!minutes || !target) return;
    let last = Date.now();
    let fired = false;
    const seen = () => {
      last = Date.now();
    };
    for (const e of ACTIVITY_EVENTS) target.addEventListener(e, seen, { passive: true });
    const check = () => {
      if (!fired && isIdle(last, Date.now(), minutes)) {
        fired = true;
        callback.current();
      }
    };
    const timer = setInterval(check, Math.min(15_000, minutes * 60_000));
    // A laptop waking from sleep: check at once rather than at the next tick.
    target.addEventListener("focus", check);
    return () => {
      for (const e of ACTIVITY_EVENTS) target.removeEventListener(e, seen);
      target.removeEventListener("focus", check);
      clearInterval(timer);
    };
  }, [minutes, target]);
}
