// TEMPORARY: the remote-access wire types, written by hand from crates/proto/src/api/remote.rs
// and remote_files.rs until the routes are in the OpenAPI document and schema.d.ts has them.
// Replace every import of this module with `components["schemas"][…]` then and delete it.

export type RemoteSessionType = "terminal" | "file_transfer" | "desktop";
export type RemoteSessionStatus = "pending" | "connecting" | "active" | "disconnected" | "failed";

export interface CreateRemoteSession {
  device_id: string;
  type: RemoteSessionType;
  cols?: number | null;
  rows?: number | null;
  view_only?: boolean | null;
}

export interface RemoteSessionCreated {
  id: string;
  status: RemoteSessionStatus;
  ws_path: string;
  ticket: string;
  expires_at: string;
}

export interface RemoteSession {
  id: string;
  org_id: string;
  device_id: string;
  hostname: string;
  user_id: string;
  user_email: string;
  type: RemoteSessionType;
  status: RemoteSessionStatus;
  view_only: boolean;
  created_at: string;
  started_at?: string | null;
  ended_at?: string | null;
  duration_seconds?: number | null;
  bytes_transferred: number;
  end_reason?: string | null;
  recording_url?: string | null;
}

export type FileType = "file" | "directory" | "symlink" | "other";

export interface FileEntry {
  name: string;
  type: FileType;
  size: number;
  mode?: string | null;
  modified?: string | null;
}

export interface FileList {
  path: string;
  entries: FileEntry[];
  /** The directory holds more entries than one listing carries. */
  truncated?: boolean;
}

export interface FileTransfer {
  id: string;
  session_id?: string | null;
  device_id: string;
  user_id: string;
  direction: string;
  remote_path: string;
  local_filename?: string | null;
  size_bytes?: number | null;
  transferred_bytes: number;
  status: string;
  progress_percent: number;
  error_message?: string | null;
  sha256?: string | null;
  created_at: string;
  completed_at?: string | null;
}
