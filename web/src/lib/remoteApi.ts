// The console's calls to the remote-access API (issue 12): sessions, recordings and the
// device file routes, typed from the OpenAPI document. Binary bodies (upload chunks), HEAD
// and downloads go through `api.raw`.
import { api } from "../api/instance";
import { ApiError } from "../api/client";
import { filesUrl } from "./remoteFiles";
import type { UploadIo } from "./remoteUpload";
import type { CreateRemoteSession, FileEntry, FileList, Page, RemoteSession, RemoteSessionCreated, RemoteSessionListQuery } from "../api/types";

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

/**
 * A directory's entries. The empty path is the start folder (the allowed root, else the
 * agent user's home): sent as "." because the client leaves empty parameters out.
 */
export function listFiles(deviceId: string, path: string, signal?: AbortSignal): Promise<FileList> {
  return api.GET("/api/v1/devices/{id}/files", { params: { path: { id: deviceId }, query: { path: path || "." } }, signal });
}

export function makeDirectory(deviceId: string, path: string): Promise<FileEntry> {
  return api.POST("/api/v1/devices/{id}/files/mkdir", { params: { path: { id: deviceId } }, body: { path } });
}

export function renameFile(deviceId: string, from: string, to: string): Promise<FileEntry> {
  return api.POST("/api/v1/devices/{id}/files/rename", { params: { path: { id: deviceId } }, body: { from, to } });
}

/** Deletes a file or, with `recursive`, a directory and everything in it. */
export function deleteFile(deviceId: string, path: string, recursive: boolean): Promise<FileEntry> {
  return api.DELETE("/api/v1/devices/{id}/files", { params: { path: { id: deviceId }, query: { path, recursive: recursive || undefined } } });
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
        await api.POST("/api/v1/devices/{id}/files/complete", { params: { path: { id: deviceId } }, body: { path, sha256 } });
        return "ok";
      } catch (e) {
        if (e instanceof ApiError && e.status === 422 && e.field === "sha256") return "mismatch";
        throw e;
      }
    },
  };
}
