// The console's calls to the remote-access API (issue 12): sessions, recordings and the
// device file routes. Binary bodies, HEAD and downloads go through `api.raw`.
import { api } from "../api/instance";
import { ApiError } from "../api/client";
import { filesUrl } from "./remoteFiles";
import type { UploadIo } from "./remoteUpload";
import type { FileEntry, FileList, FileTransfer } from "./remoteTypes";
import type { CreateRemoteSession, Page, RemoteSession, RemoteSessionCreated, RemoteSessionListQuery } from "../api/types";

async function json<T>(path: string, init: RequestInit = {}): Promise<T> {
  const headers = new Headers(init.headers);
  if (init.body !== undefined && typeof init.body === "string") headers.set("Content-Type", "application/json");
  const res = await api.raw(path, { ...init, headers });
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

export function createSession(body: CreateRemoteSession, signal?: AbortSignal): Promise<RemoteSessionCreated> {
  return api.POST("/api/v1/remote/sessions", { body, signal });
}

export function getSession(id: string, signal?: AbortSignal): Promise<RemoteSession> {
  return api.GET("/api/v1/remote/sessions/{id}", { params: { path: { id } }, signal });
}

export async function endSession(id: string): Promise<void> {
  await api.DELETE("/api/v1/remote/sessions/{id}", { params: { path: { id } } });
}

export function listSessions(query: RemoteSessionListQuery, cursor: string | undefined, signal?: AbortSignal): Promise<Page<RemoteSession>> {
  return api.GET("/api/v1/remote/sessions", { params: { query: { ...query, cursor, limit: 100 } }, signal });
}

/** The asciicast v2 text of a session's recording. */
export async function getRecording(url: string, signal?: AbortSignal): Promise<string> {
  return (await api.raw(url, { signal, headers: { Accept: "application/x-asciicast, application/json" } })).text();
}

export function listFiles(deviceId: string, path: string, signal?: AbortSignal): Promise<FileList> {
  return json(filesUrl(deviceId, "", { path }), { signal });
}

export function makeDirectory(deviceId: string, path: string): Promise<FileEntry> {
  return json(filesUrl(deviceId, "/mkdir"), { method: "POST", body: JSON.stringify({ path }) });
}

export function renameFile(deviceId: string, from: string, to: string): Promise<FileEntry> {
  return json(filesUrl(deviceId, "/rename"), { method: "POST", body: JSON.stringify({ from, to }) });
}

/** Deletes a file or, with `recursive`, a directory and everything in it. */
export function deleteFile(deviceId: string, path: string, recursive: boolean): Promise<FileEntry> {
  return json(filesUrl(deviceId, "", { path, recursive: recursive ? "true" : undefined }), { method: "DELETE" });
}

/** The whole file as a Blob (the browser holds it until it is saved). */
export async function downloadFile(deviceId: string, path: string): Promise<Blob> {
  return (await api.raw(filesUrl(deviceId, "/content", { path }), { headers: { Accept: "application/octet-stream, application/json" } })).blob();
}

/** The upload side of the file routes: HEAD for the size, PUT chunks, POST complete. */
export function uploadIo(deviceId: string): UploadIo {
  return {
    async head(path) {
      try {
        const res = await api.raw(filesUrl(deviceId, "/content", { path }), { method: "HEAD" });
        const n = Number(res.headers.get("Content-Length"));
        return Number.isFinite(n) && n >= 0 ? n : null;
      } catch (e) {
        if (e instanceof ApiError && e.status === 404) return null;
        throw e;
      }
    },
    async put(path, offset, total, bytes, signal) {
      await api.raw(filesUrl(deviceId, "/content", { path, offset, total }), {
        method: "PUT",
        body: bytes as Uint8Array<ArrayBuffer>,
        headers: { "Content-Type": "application/octet-stream" },
        signal,
      });
    },
    async complete(path, sha256) {
      try {
        await json<FileTransfer>(filesUrl(deviceId, "/complete"), { method: "POST", body: JSON.stringify({ path, sha256 }) });
        return "ok";
      } catch (e) {
        if (e instanceof ApiError && e.status === 422 && e.field === "sha256") return "mismatch";
        throw e;
      }
    },
  };
}

/** An API error as the file manager says it: the server's message, with what the status means. */
export function fileErrorText(e: unknown): string {
  if (!(e instanceof ApiError)) return e instanceof Error ? e.message : String(e);
  switch (e.status) {
    case 403:
      return `Refused: ${e.message} (outside the folder this device allows, or not permitted).`;
    case 404:
      return `Not found: ${e.message}`;
    case 409:
      return e.code === "device_offline" ? `The device is offline: ${e.message}` : `Conflict: ${e.message}`;
    default:
      return e.message;
  }
}
