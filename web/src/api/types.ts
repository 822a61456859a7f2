// TypeScript mirror of crates/proto/src/api.rs (the truth). Keep the field names identical.

export type Uuid = string;
export type Timestamp = string;

export interface ErrorDetail {
  code: string;
  message: string;
  field?: string | null;
}
export interface ErrorBody {
  error: ErrorDetail;
}
export interface Page<T> {
  data: T[];
  next_cursor?: string | null;
}
export interface Data<T> {
  data: T;
}
export interface ListParams {
  limit?: number;
  cursor?: string;
  sort?: string;
  q?: string;
}

// ---------------------------------------------------------------- setup and auth
export interface SetupStatus {
  needs_setup: boolean;
}
export interface TokenPair {
  access_token: string;
  refresh_token: string;
  token_type: string;
  expires_in: number;
}
export interface LoginResponse extends Partial<TokenPair> {
  mfa_required: boolean;
  mfa_token?: string;
}
export interface MfaSetupResponse {
  secret: string;
  otpauth_uri: string;
  recovery_codes: string[];
}
export interface MfaVerifyResponse extends Partial<TokenPair> {
  mfa_enabled: boolean;
}
export interface OkBody {
  ok: boolean;
}
export interface RoleSummary {
  id: Uuid;
  name: string;
}
export interface User {
  id: Uuid;
  email: string;
  name: string;
  status: "active" | "invited" | "disabled" | string;
  mfa_enabled: boolean;
  last_login_at: Timestamp | null;
  created_at: Timestamp;
}
export interface Me {
  user: User;
  scope_level: "system" | "partner" | "organization" | string;
  partner_id: Uuid | null;
  org_id: Uuid | null;
  role: RoleSummary | null;
  permissions: string[];
  org_access: "all" | "selected" | string | null;
  org_ids: Uuid[] | null;
  site_ids: Uuid[] | null;
  /** The partner requires MFA and this user has not set it up: nothing else answers until they do. */
  mfa_enrollment_required: boolean;
  /** The partner's idle timeout: the console signs out after this long without use. */
  idle_timeout_minutes: number | null;
}
export interface SetupRequest {
  setup_token: string;
  partner_name: string;
  admin_name: string;
  admin_email: string;
  admin_password: string;
}

// ---------------------------------------------------------------- tenancy
export interface Partner {
  id: Uuid;
  name: string;
  slug: string;
  type: string;
  plan: string;
  max_organizations: number | null;
  max_devices: number | null;
  settings: unknown;
  billing_email: string | null;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export interface PartnerCreated {
  partner: Partner;
  admin_invite_token: string | null;
}
export interface Organization {
  id: Uuid;
  partner_id: Uuid;
  name: string;
  slug: string;
  type: string;
  status: string;
  max_devices: number | null;
  settings: unknown;
  contract_start: string | null;
  contract_end: string | null;
  billing_contact: unknown;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export interface Site {
  id: Uuid;
  org_id: Uuid;
  name: string;
  address: unknown;
  timezone: string;
  contact: unknown;
  settings: unknown;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export interface DeviceGroup {
  id: Uuid;
  org_id: Uuid;
  site_id: Uuid | null;
  name: string;
  type: "static" | "dynamic" | string;
  rules: unknown;
  parent_id: Uuid | null;
  member_count: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}

// ---------------------------------------------------------------- users and roles
export interface Member extends User {
  role_id: Uuid;
  role_name: string;
  partner_id: Uuid | null;
  org_id: Uuid | null;
  org_access: string | null;
  org_ids: Uuid[] | null;
  site_ids: Uuid[] | null;
  device_group_ids: Uuid[] | null;
}
export interface Invited {
  member: Member;
  invite_token: string;
}
export interface Role {
  id: Uuid;
  partner_id: Uuid | null;
  org_id: Uuid | null;
  scope: "partner" | "organization" | string;
  name: string;
  description: string | null;
  is_system: boolean;
  permissions: string[];
  created_at: Timestamp;
  updated_at: Timestamp;
}
export interface PermissionInfo {
  resource: string;
  action: string;
}

// ---------------------------------------------------------------- partner settings
export type SmtpTls = "none" | "starttls" | "tls";
export interface SmtpSettings {
  enabled: boolean;
  host: string | null;
  /** null: the usual port of the TLS mode (25, 587, 465). */
  port: number | null;
  tls: SmtpTls | string;
  username: string | null;
  /** The password itself is never returned. */
  password_set: boolean;
  from: string | null;
}
export interface SessionPolicy {
  access_token_minutes: number | null;
  session_lifetime_hours: number | null;
  idle_timeout_minutes: number | null;
  require_mfa: boolean;
}
export interface ServerDefaults {
  access_token_secs: number;
  refresh_token_days: number;
  smtp_configured: boolean;
}
export interface Settings {
  partner_id: Uuid;
  smtp: SmtpSettings;
  session_policy: SessionPolicy;
  server_defaults: ServerDefaults;
  updated_at: Timestamp | null;
  updated_by: Uuid | null;
}
/** Absent fields stay as they are; null clears an optional one. */
export interface UpdateSmtp {
  enabled?: boolean;
  host?: string | null;
  port?: number | null;
  tls?: SmtpTls;
  username?: string | null;
  /** A new password; null removes the stored one; absent keeps it. */
  password?: string | null;
  from?: string | null;
}
export interface UpdateSessionPolicy {
  access_token_minutes?: number | null;
  session_lifetime_hours?: number | null;
  idle_timeout_minutes?: number | null;
  require_mfa?: boolean;
}
export interface UpdateSettings {
  smtp?: UpdateSmtp;
  session_policy?: UpdateSessionPolicy;
}
export interface SmtpTestResult {
  sent_to: string;
  host: string;
  port: number;
}

// ---------------------------------------------------------------- audit
export interface AuditEntry {
  id: Uuid;
  seq: number;
  timestamp: Timestamp;
  partner_id: Uuid | null;
  org_id: Uuid | null;
  actor_type: string;
  actor_id: Uuid | null;
  actor_email: string | null;
  action: string;
  resource_type: string;
  resource_id: string | null;
  resource_name: string | null;
  details: unknown;
  ip_address: string | null;
  user_agent: string | null;
  result: "success" | "failure" | "denied" | string;
  error_message: string | null;
  checksum: string;
  site_id?: Uuid | null;
  device_id?: Uuid | null;
}
export interface CountBy {
  key: string;
  count: number;
}
export interface AuditSummary {
  total: number;
  by_action: CountBy[];
  by_result: CountBy[];
  by_actor: CountBy[];
}

// ---------------------------------------------------------------- devices, scripts, enrollment
// These land with the agent issue; shapes follow seed 004 "Devices & Agents" and
// "Scripting & Automation" until crates/proto has them. Optional fields are read defensively.
export type DeviceStatus = "online" | "offline" | "maintenance" | "quarantined" | "decommissioned" | string;
export interface Device {
  id: Uuid;
  org_id: Uuid;
  site_id: Uuid | null;
  agent_id?: string;
  hostname: string;
  display_name: string | null;
  os_type: "windows" | "macos" | "linux" | string;
  os_version: string | null;
  os_build?: string | null;
  architecture: string | null;
  agent_version: string | null;
  status: DeviceStatus;
  last_seen_at: Timestamp | null;
  enrolled_at: Timestamp | null;
  tags: string[];
  created_at: Timestamp;
  updated_at?: Timestamp;
  // Present when the server includes the latest metrics in the list.
  cpu_percent?: number | null;
  ram_percent?: number | null;
  disk_percent?: number | null;
}
export interface UpdateDevice {
  display_name?: string | null;
  tags?: string[];
  site_id?: Uuid;
  status?: string;
}
export interface DeviceHardware {
  cpu_model: string | null;
  cpu_cores: number | null;
  cpu_threads: number | null;
  ram_total_mb: number | null;
  disk_total_gb: number | null;
  gpu_model: string | null;
  serial_number: string | null;
  manufacturer: string | null;
  model: string | null;
  bios_version: string | null;
  updated_at?: Timestamp;
  disks?: DeviceDisk[];
  network?: DeviceNetwork[];
}
export interface DeviceDisk {
  mount_point: string;
  device?: string | null;
  filesystem?: string | null;
  total_gb: number;
  used_gb: number;
}
export interface DeviceNetwork {
  interface_name: string;
  mac_address: string | null;
  ip_address: string | null;
  ip_type?: string | null;
  is_primary?: boolean;
  public_ip?: string | null;
}
export interface DeviceSoftware {
  id?: Uuid;
  name: string;
  version: string | null;
  publisher: string | null;
  install_date: string | null;
  install_location?: string | null;
}
/** `GET /api/v1/devices/{id}/processes` rows (the agent's `ProcessInfo`). */
export interface DeviceProcess {
  pid: number;
  name: string;
  user?: string | null;
  cpu_percent: number;
  memory_bytes: number;
}
/** `GET /api/v1/devices/{id}/users` rows (the agent's `LoggedInUser`). */
export interface DeviceLoggedInUser {
  username: string;
  terminal: string;
  host?: string | null;
  login_time?: Timestamp | null;
}
export interface MetricPoint {
  timestamp: Timestamp;
  cpu_percent: number | null;
  ram_percent: number | null;
  disk_percent: number | null;
  network_in_bytes?: number | null;
  network_out_bytes?: number | null;
  process_count?: number | null;
}
export interface DeviceCommand {
  id: Uuid;
  device_id: Uuid;
  type: string;
  payload?: unknown;
  status: string;
  created_at: Timestamp;
  completed_at?: Timestamp | null;
  result?: unknown;
}
export type ScriptLanguage = "bash" | "powershell" | "python" | "cmd" | string;
export interface ScriptParameter {
  name: string;
  label?: string | null;
  type: "string" | "number" | "boolean" | "select" | string;
  required?: boolean;
  default?: string | number | boolean | null;
  options?: string[] | null;
  description?: string | null;
}
export interface Script {
  id: Uuid;
  org_id: Uuid | null;
  name: string;
  description: string | null;
  category: string | null;
  os_types: string[];
  language: ScriptLanguage;
  content: string;
  parameters: ScriptParameter[] | null;
  timeout_seconds: number;
  run_as: string;
  is_system: boolean;
  version: number;
  created_at: Timestamp;
  updated_at: Timestamp;
}
export type ExecutionStatus =
  | "pending"
  | "queued"
  | "running"
  | "completed"
  | "failed"
  | "timeout"
  | "cancelled"
  | "lost"
  | string;
export interface ScriptExecution {
  id: Uuid;
  script_id: Uuid;
  script_name: string;
  script_version: number;
  device_id: Uuid;
  /** The device's display name, or its hostname. */
  device_hostname: string;
  status: ExecutionStatus;
  parameters?: unknown;
  exit_code: number | null;
  stdout: string | null;
  stderr: string | null;
  error_message: string | null;
  started_at: Timestamp | null;
  completed_at: Timestamp | null;
  created_at: Timestamp;
}
export interface ExecuteScript {
  device_ids?: Uuid[];
  group_ids?: Uuid[];
  site_ids?: Uuid[];
  parameters?: Record<string, unknown>;
}
export interface EnrollmentKey {
  id: Uuid;
  org_id: Uuid;
  site_id: Uuid;
  name: string;
  /** The secret; present only in the answer that created the key. */
  key?: string | null;
  key_prefix?: string | null;
  expires_at: Timestamp | null;
  max_uses: number | null;
  use_count: number;
  created_at: Timestamp;
  revoked_at?: Timestamp | null;
}

/** One message of the live event stream. */
/** The answer to creating an enrollment key: the secret and the commands that use it, shown once. */
export interface EnrollmentKeyCreated extends EnrollmentKey {
  key: string;
  /** `breeze-agent enroll --server <public_url> --key <key>` */
  install_command: string;
  /** `curl -fsSL <public_url>/install.sh | sudo sh -s -- --key <key>` */
  install_script_command: string;
}
/** An agent build the server hands out (`GET /download/agent`). */
export interface AgentDownload {
  platform: string;
  os: string;
  arch: string;
  url: string;
  file_name: string;
  size: number;
  sha256: string;
}
export interface AgentDownloads {
  public_url: string;
  install_script_url: string;
  agents: AgentDownload[];
  missing: string[];
}

export interface LiveEvent {
  type: string;
  [key: string]: unknown;
}
