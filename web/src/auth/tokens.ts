import type { TokenStore } from "../api/client";
import type { TokenPair } from "../api/types";

const REFRESH_KEY = "breeze.refresh_token";

/**
 * The access token lives only in memory; the refresh token in sessionStorage, so a reload
 * keeps the session but closing the tab ends it, and no token is readable by other tabs.
 */
export class SessionTokenStore implements TokenStore {
  private access: string | null = null;
  private listeners = new Set<() => void>();
  private readonly storage: Storage | null;

  constructor(storage: Storage | null = typeof sessionStorage === "undefined" ? null : sessionStorage) {
    this.storage = storage;
  }

  getAccess(): string | null {
    return this.access;
  }
  getRefresh(): string | null {
    return this.storage?.getItem(REFRESH_KEY) ?? null;
  }
  set(pair: TokenPair): void {
    this.access = pair.access_token;
    this.storage?.setItem(REFRESH_KEY, pair.refresh_token);
    this.emit();
  }
  clear(): void {
    const had = this.access !== null || this.getRefresh() !== null;
    this.access = null;
    this.storage?.removeItem(REFRESH_KEY);
    if (had) this.emit();
  }
  hasSession(): boolean {
    return this.access !== null || this.getRefresh() !== null;
  }
  subscribe(fn: () => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }
  private emit() {
    for (const fn of this.listeners) fn();
  }
}
