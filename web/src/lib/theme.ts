import { useSyncExternalStore } from "react";

export type Theme = "light" | "dark";
const KEY = "breeze.theme";
const listeners = new Set<() => void>();

function systemTheme(): Theme {
  return typeof matchMedia !== "undefined" && matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
}

export function currentTheme(): Theme {
  const saved = typeof localStorage !== "undefined" ? localStorage.getItem(KEY) : null;
  return saved === "dark" || saved === "light" ? saved : systemTheme();
}

/** Applies the theme to <html>; called at start-up before React renders (no inline script: CSP). */
export function applyTheme(t: Theme = currentTheme()) {
  document.documentElement.classList.toggle("dark", t === "dark");
}

export function setTheme(t: Theme) {
  localStorage.setItem(KEY, t);
  applyTheme(t);
  listeners.forEach((fn) => fn());
}

export function useTheme(): Theme {
  return useSyncExternalStore(
    (fn) => {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
    currentTheme,
  );
}
