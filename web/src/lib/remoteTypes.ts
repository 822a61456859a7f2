// TEMPORARY: the file manager's wire types, written by hand from crates/proto/src/api/remote_files.rs
// until the file routes are in the OpenAPI document and schema.d.ts has them (the session
// types already come from there, see api/types.ts). Replace every import of this module with
// the generated types then and delete it.

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
