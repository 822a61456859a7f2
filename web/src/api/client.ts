// The one HTTP client of the console: JSON in and out, the Bearer access token, and one
// transparent refresh when the server answers 401.
import type { ErrorBody, TokenPair } from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  readonly field: string | null;

  constructor(status: number, code: string, message: string, field: string | null = null) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** True when `e` is an error the server reported for one field of the request. */
export function fieldError(e: unknown): { field: string; message: string } | null {
  if (e instanceof ApiError && e.field) return { field: e.field, message: e.message };
  return null;
}

export function errorMessage(e: unknown): string {
  if (e instanceof ApiError) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Where the tokens live: the access token in memory, the refresh token wherever the store says. */
export interface TokenStore {
  getAccess(): string | null;
  getRefresh(): string | null;
  set(pair: TokenPair): void;
  clear(): void;
}

export type Query = Record<string, string | number | boolean | null | undefined | string[]>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Send the access token (default true). */
  auth?: boolean;
  signal?: AbortSignal;
}

export interface ClientOptions {
  baseUrl?: string;
  tokens: TokenStore;
  fetch?: typeof fetch;
  /** Called once when the session cannot be renewed (refresh refused or missing). */
  onSessionExpired?: () => void;
}

export function buildQuery(query: Query | undefined): string {
  if (!query) return "";
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) {
    if (v === undefined || v === null || v === "") continue;
    if (Array.isArray(v)) {
      for (const item of v) params.append(k, item);
    } else {
      params.append(k, String(v));
    }
  }
  const s = params.toString();
  return s ? `?${s}` : "";
}

async function parseError(res: Response): Promise<ApiError> {
  let body: Partial<ErrorBody> | null = null;
  try {
    body = (await res.json()) as Partial<ErrorBody>;
  } catch {
    body = null;
  }
  const d = body?.error;
  if (d && typeof d.message === "string") {
    return new ApiError(res.status, d.code ?? "error", d.message, d.field ?? null);
  }
  const fallback =
    res.status === 429
      ? "Too many attempts; wait a moment and try again."
      : res.status >= 500
        ? "The server had a problem answering. Try again; if it persists, check the server log."
        : `Request failed (${res.status} ${res.statusText})`;
  return new ApiError(res.status, res.status === 429 ? "rate_limited" : "http_error", fallback);
}

export class ApiClient {
  private readonly baseUrl: string;
  private readonly tokens: TokenStore;
  private readonly fetchFn: typeof fetch;
  private readonly onSessionExpired?: () => void;
  private refreshing: Promise<boolean> | null = null;

  constructor(opts: ClientOptions) {
    this.baseUrl = opts.baseUrl ?? "";
    this.tokens = opts.tokens;
    this.fetchFn = opts.fetch ?? ((...args) => globalThis.fetch(...args));
    this.onSessionExpired = opts.onSessionExpired;
  }

  get tokenStore(): TokenStore {
    return this.tokens;
  }

  get<T>(path: string, query?: Query, signal?: AbortSignal): Promise<T> {
    return this.request<T>("GET", path, { query, signal });
  }
  post<T>(path: string, body?: unknown, opts: Omit<RequestOptions, "body"> = {}): Promise<T> {
    return this.request<T>("POST", path, { ...opts, body: body ?? {} });
  }
  patch<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>("PATCH", path, { body });
  }
  delete<T = void>(path: string, body?: unknown): Promise<T> {
    return this.request<T>("DELETE", path, { body });
  }

  /**
   * Renew the token pair with the refresh token. Concurrent callers share one request:
   * refresh tokens rotate on every use, and spending one twice revokes the whole family.
   */
  refresh(): Promise<boolean> {
    if (!this.refreshing) {
      this.refreshing = this.doRefresh().finally(() => {
        this.refreshing = null;
      });
    }
    return this.refreshing;
  }

  private async doRefresh(): Promise<boolean> {
    const refreshToken = this.tokens.getRefresh();
    if (!refreshToken) return false;
    try {
      const res = await this.fetchFn(`${this.baseUrl}/api/v1/auth/refresh`, {
        method: "POST",
        headers: { "Content-Type": "application/json", Accept: "application/json" },
        body: JSON.stringify({ refresh_token: refreshToken }),
      });
      if (!res.ok) {
        // Only a definite refusal ends the session; a 5xx leaves the tokens for a retry.
        if (res.status === 400 || res.status === 401 || res.status === 403) this.tokens.clear();
        return false;
      }
      this.tokens.set((await res.json()) as TokenPair);
      return true;
    } catch {
      return false;
    }
  }

  /** The raw response (for downloads); refreshes once on 401 like `request`. */
  async raw(method: string, path: string, opts: RequestOptions = {}): Promise<Response> {
    const auth = opts.auth ?? true;
    if (auth && !this.tokens.getAccess() && this.tokens.getRefresh()) await this.refresh();
    let res = await this.send(method, path, opts, auth);
    if (res.status === 401 && auth && this.tokens.getRefresh()) {
      if (await this.refresh()) {
        res = await this.send(method, path, opts, auth);
      }
    }
    if (res.status === 401 && auth) {
      this.tokens.clear();
      this.onSessionExpired?.();
    }
    if (!res.ok) throw await parseError(res);
    return res;
  }

  async request<T>(method: string, path: string, opts: RequestOptions = {}): Promise<T> {
    const res = await this.raw(method, path, opts);
    if (res.status === 204) return undefined as T;
    const text = await res.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  private send(method: string, path: string, opts: RequestOptions, auth: boolean): Promise<Response> {
    const headers: Record<string, string> = { Accept: "application/json" };
    if (opts.body !== undefined) headers["Content-Type"] = "application/json";
    const access = this.tokens.getAccess();
    if (auth && access) headers.Authorization = `Bearer ${access}`;
    return this.fetchFn(`${this.baseUrl}${path}${buildQuery(opts.query)}`, {
      method,
      headers,
      body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
      signal: opts.signal,
    });
  }
}
