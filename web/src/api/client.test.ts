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
  const seen: Array<{ method: string; url: string; contentType: string | null; body: string }> = [];
  const fetch = vi.fn(async (req: Request) => {
    const u = new URL(req.url);
    const body = req.body ? await req.text() : "";
    seen.push({ method: req.method, url: u.pathname + u.search, contentType: req.headers.get("Content-Type"), body });
    if (u.pathname === "/api/v1/auth/refresh") {
      const { refresh_token } = JSON.parse(body) as { refresh_token: string };
      refreshCalls.push(refresh_token);
      await new Promise((r) => setTimeout(r, 5));
      if (refresh_token !== `refresh-${current}`) return json(401, { error: { code: "unauthorized", message: "refresh token spent" } });
      current++;
      return json(200, pair(current));
    }
    if (req.headers.get("Authorization") !== `Bearer access-${current}`) return json(401, { error: { code: "unauthorized", message: "expired" } });
    if (u.pathname === "/api/v1/users" && req.method === "POST") return json(422, { error: { code: "validation", message: "already invited", field: "email" } });
    if (req.method === "DELETE") return new Response(null, { status: 204 });
    if (u.pathname.endsWith("/export")) return new Response("a,b\n1,2\n", { status: 200, headers: { "Content-Type": "text/csv" } });
    return json(200, { ok: true, path: u.pathname, query: u.search });
  });
  return {
    fetch,
    refreshCalls,
    seen,
    setCurrent: (n: number) => (current = n),
  };
}

function client(server: ReturnType<typeof mockServer>, tokens = new SessionTokenStore(new MemoryStorage())) {
  const expired = vi.fn();
  const api = new ApiClient({ baseUrl: "http://breeze.test", tokens, fetch: server.fetch as unknown as typeof fetch, onSessionExpired: expired });
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
    await expect(api.GET("/api/v1/orgs", { params: { query: { q: "acme" } } })).resolves.toMatchObject({ ok: true, query: "?q=acme" });
  });

  it("puts path parameters in the path, query parameters in the query, and the body as JSON", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set(pair(1));
    await api.GET("/api/v1/devices/{id}/metrics", { params: { path: { id: "d1" }, query: { resolution: "5m", from: "" } } });
    await api.POST("/api/v1/enrollment-keys", { body: { org_id: "o1", site_id: "s1", name: "Rollout", expires_in_hours: 168 } });
    expect(server.seen[0]).toMatchObject({ method: "GET", url: "/api/v1/devices/d1/metrics?resolution=5m", body: "" });
    expect(server.seen[1]).toMatchObject({ method: "POST", url: "/api/v1/enrollment-keys", contentType: "application/json" });
    expect(JSON.parse(server.seen[1].body)).toEqual({ org_id: "o1", site_id: "s1", name: "Rollout", expires_in_hours: 168 });
  });

  it("answers nothing for 204 and a Blob for downloads", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set(pair(1));
    await expect(api.DELETE("/api/v1/enrollment-keys/{id}", { params: { path: { id: "k1" } } })).resolves.toBeUndefined();
    const blob = await api.download("/api/v1/audit/logs/export", { params: { query: { format: "csv" } } });
    expect(await blob.text()).toBe("a,b\n1,2\n");
    expect(server.seen[1].url).toBe("/api/v1/audit/logs/export?format=csv");
  });

  it("raw: sends a binary body with the token, refreshes on 401, and throws the error answer", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set({ ...pair(1), access_token: "access-stale" });
    const res = await api.raw("/api/v1/devices/d1/files/content?path=a&offset=0", { method: "PUT", body: new Uint8Array([104, 105]) });
    expect(res.status).toBe(200);
    const puts = server.seen.filter((r) => r.method === "PUT");
    expect(puts.map((r) => [r.url, r.body])).toEqual([
      ["/api/v1/devices/d1/files/content?path=a&offset=0", "hi"],
      ["/api/v1/devices/d1/files/content?path=a&offset=0", "hi"],
    ]);
    await expect(api.raw("/api/v1/users", { method: "POST", body: "{}" })).rejects.toMatchObject({ status: 422, field: "email", message: "already invited" });
  });

  it("refreshes once on 401 and retries the request", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set(pair(1));
    server.setCurrent(1);
    // The access token expires: the server now only accepts access-2 after a refresh.
    tokens.set({ ...pair(1), access_token: "access-stale" });
    await expect(api.POST("/api/v1/orgs", { body: { name: "Acme" } })).resolves.toMatchObject({ ok: true });
    expect(server.refreshCalls).toEqual(["refresh-1"]);
    expect(tokens.getAccess()).toBe("access-2");
    expect(tokens.getRefresh()).toBe("refresh-2");
    // The retried request carried its body again.
    expect(server.seen.filter((r) => r.url === "/api/v1/orgs").map((r) => r.body)).toEqual(['{"name":"Acme"}', '{"name":"Acme"}']);
  });

  it("shares one refresh between concurrent requests (a spent refresh token would revoke the family)", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set({ ...pair(1), access_token: "access-stale" });
    const results = await Promise.all([api.GET("/api/v1/orgs"), api.GET("/api/v1/users"), api.GET("/api/v1/roles")]);
    expect(results).toHaveLength(3);
    expect(server.refreshCalls).toEqual(["refresh-1"]);
  });

  it("restores the session from the stored refresh token after a reload", async () => {
    const server = mockServer();
    const storage = new MemoryStorage();
    new SessionTokenStore(storage).set(pair(1));
    const { api, tokens } = client(server, new SessionTokenStore(storage));
    expect(tokens.getAccess()).toBeNull();
    await expect(api.GET("/api/v1/auth/me")).resolves.toMatchObject({ ok: true });
    expect(server.refreshCalls).toEqual(["refresh-1"]);
  });

  it("ends the session when the refresh is refused, and does not retry twice", async () => {
    const server = mockServer();
    const { api, tokens, expired } = client(server);
    tokens.set({ access_token: "access-stale", refresh_token: "refresh-spent", token_type: "Bearer", expires_in: 900 });
    await expect(api.GET("/api/v1/orgs")).rejects.toBeInstanceOf(ApiError);
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
    await expect(api.POST("/api/v1/auth/login", { body: { email: "a", password: "b" }, auth: false })).rejects.toMatchObject({ status: 401 });
    expect(server.refreshCalls).toEqual([]);
  });

  it("turns the error body into an ApiError with its field", async () => {
    const server = mockServer();
    const { api, tokens } = client(server);
    tokens.set(pair(1));
    const e = await api.POST("/api/v1/users", { body: { email: "x", name: "X", role_id: "r" } }).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(ApiError);
    expect(e).toMatchObject({ status: 422, code: "validation", field: "email", message: "already invited" });
    expect(fieldError(e)).toEqual({ field: "email", message: "already invited" });
  });

  it("explains a 5xx without a JSON body", async () => {
    const fetch = vi.fn(async () => new Response("boom", { status: 502, statusText: "Bad Gateway" }));
    const api = new ApiClient({ baseUrl: "http://breeze.test", tokens: new SessionTokenStore(new MemoryStorage()), fetch: fetch as unknown as typeof globalThis.fetch });
    await expect(api.GET("/api/v1/setup/status")).rejects.toMatchObject({ status: 502, message: expect.stringMatching(/server had a problem/) });
  });
});
