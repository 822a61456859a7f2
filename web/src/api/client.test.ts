import { describe, expect, it, vi } from "vitest";
import { ApiClient, ApiError, buildQuery, fieldError } from "./client";
import { SessionTokenStore } from "../auth/tokens";
import type { TokenPair } from "./types";

class MemoryStorage implements Storage {
  private m = new Map<string, string>();
  get length() {
    return this.m.size;
  }
  clear() {
    this.m.clear();
  }
  getItem(k: string) {
    return this.m.get(k) ?? null;
  }
  key(i: number) {
    return [...this.m.keys()][i] ?? null;
  }
  removeItem(k: string) {
    this.m.delete(k);
  }
  setItem(k: string, v: string) {
    this.m.set(k, v);
  }
}

const pair = (n: number): TokenPair => ({ access_token: `access-${n}`, refresh_token: `refresh-${n}`, token_type: "Bearer", expires_in: 900 });
const json = (status: number, body: unknown) => new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json" } });

/** A tiny stand-in for the server: access tokens `access-N` are valid while N is current. */
function mockServer() {
  let current = 1;
  const refreshCalls: string[] = [];
  const fetch = vi.fn(async (url: string, init?: RequestInit) => {
    const u = new URL(url, "http://x");
    if (u.pathname === "/api/v1/auth/refresh") {
      const body = JSON.parse(String(init?.body)) as { refresh_token: string };
      refreshCalls.push(body.refresh_token);
      await new Promise((r) => setTimeout(r, 5));
      if (body.refresh_token !== `refresh-${current}`) return json(401, { error: { code: "unauthorized", message: "refresh token spent" } });
      current++;
      return json(200, pair(current));
    }
    const auth = (init?.headers as Record<string, string>)?.Authorization;
    if (auth !== `Bearer access-${current}`) return json(401, { error: { code: "unauthorized", message: "expired" } });
    if (u.pathname === "/api/v1/users" && init?.method === "POST") return json(422, { error: { code: "validation", message: "already invited", field: "email" } });
    return json(200, { ok: true, path: u.pathname, query: u.search });
  });
  return {
    fetch,
    refreshCalls,
    setCurrent: (n: number) => (current = n),
  };
}

function client(server: ReturnType<typeof mockServer>, tokens = new SessionTokenStore(new MemoryStorage())) {
  const expired = vi.fn();
  const api = new ApiClient({ tokens, fetch: server.fetch as unknown as typeof fetch, onSessionExpired: expired });
  return { api, tokens, expired };
}

describe("buildQuery", () => {
  it("skips empty values and repeats arrays", () => {
    expect(buildQuery({ a: 1, b: "", c: undefined, d: null, e: ["x", "y"], f: false })).toBe("?a=1&e=x&e=y&f=false");
    expect(buildQuery({})).toBe("");
  });
});

describe("ApiClient", () => {
  it("sends the bearer token and parses JSON", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set(pair(1));
    await expect(api.get("/api/v1/orgs", { q: "acme" })).resolves.toMatchObject({ ok: true, query: "?q=acme" });
  });

  it("refreshes once on 401 and retries the request", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set(pair(1));
    server.setCurrent(1);
    // The access token expires: the server now only accepts access-2 after a refresh.
    tokens.set({ ...pair(1), access_token: "access-stale" });
    await expect(api.get("/api/v1/orgs")).resolves.toMatchObject({ ok: true });
    expect(server.refreshCalls).toEqual(["refresh-1"]);
    expect(tokens.getAccess()).toBe("access-2");
    expect(tokens.getRefresh()).toBe("refresh-2");
  });

  it("shares one refresh between concurrent requests (a spent refresh token would revoke the family)", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set({ ...pair(1), access_token: "access-stale" });
    const results = await Promise.all([api.get("/a"), api.get("/b"), api.get("/c")]);
    expect(results).toHaveLength(3);
    expect(server.refreshCalls).toEqual(["refresh-1"]);
  });

  it("restores the session from the stored refresh token after a reload", async () => {
    const server = mockServer();
    const storage = new MemoryStorage();
    new SessionTokenStore(storage).set(pair(1));
    const { api, tokens } = client(server, new SessionTokenStore(storage));
    expect(tokens.getAccess()).toBeNull();
    await expect(api.get("/api/v1/auth/me")).resolves.toMatchObject({ ok: true });
    expect(server.refreshCalls).toEqual(["refresh-1"]);
  });

  it("ends the session when the refresh is refused, and does not retry twice", async () => {
    const server = mockServer();
    const { api, tokens, expired } = client(server);
    tokens.set({ access_token: "access-stale", refresh_token: "refresh-spent", token_type: "Bearer", expires_in: 900 });
    await expect(api.get("/x")).rejects.toBeInstanceOf(ApiError);
    expect(server.refreshCalls).toEqual(["refresh-spent"]);
    expect(tokens.getRefresh()).toBeNull();
    expect(tokens.getAccess()).toBeNull();
    expect(expired).toHaveBeenCalledTimes(1);
    // 1 request + 1 refresh; no second retry.
    expect(server.fetch).toHaveBeenCalledTimes(2);
  });

  it("does not send or refresh tokens for unauthenticated calls", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set({ ...pair(1), access_token: "access-stale" });
    await expect(api.post("/api/v1/auth/login", { email: "a", password: "b" }, { auth: false })).rejects.toMatchObject({ status: 401 });
    expect(server.refreshCalls).toEqual([]);
  });

  it("turns the error body into an ApiError with its field", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set(pair(1));
    const e = await api.post("/api/v1/users", { email: "x" }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 422, code: "validation", field: "email", message: "already invited" });
    expect(fieldError(e)).toEqual({ field: "email", message: "already invited" });
  });

  it("explains a 5xx without a JSON body", async () => {
    const fetch = vi.fn(async () => new Response("boom", { status: 502, statusText: "Bad Gateway" }));
    const api = new ApiClient({ tokens: new SessionTokenStore(new MemoryStorage()), fetch: fetch as unknown as typeof globalThis.fetch });
    await expect(api.get("/x", undefined)).rejects.toMatchObject({ status: 502, message: expect.stringMatching(/server had a problem/) });
  });
});
